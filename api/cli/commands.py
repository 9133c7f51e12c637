"""Which module holds each ``drg`` subcommand, and its one-line help.

The top-level parser is built from this table, so a command imports only its own module:
``drg group`` never loads scikit-learn, FastAPI or PySpark, and ``drg --help`` loads no engine at all.
"""

COMMANDS = {
    "group": ("api.cli.group", "group a file of records 分组"),
    "demo": ("api.cli.group", "group generated records with the bundled example pack 示例"),
    "packs": ("api.cli.packs", "definition packs 分组方案"),
    "weights": ("api.cli.weights", "relative-weight tables 相对权重表"),
    "settle": ("api.cli.settle", "DRG payment against the budget 按月预结、年度清算、空转试运行"),
    "serve": ("api.cli.serve", "HTTP service for hospitals, coders and payers 分组服务"),
    "calibrate": ("api.cli.calibrate", "relative weights from historical cases 相对权重测算"),
    "indices": ("api.cli.calibrate", "hospital performance indices 绩效指数 (CMI, 费用/时间消耗指数 …)"),
    "validate": ("api.cli.validate", "check front pages before upload 病案首页质控"),
    "explain": ("api.cli.validate", "explain one record's grouping 分组过程说明"),
    "audit": ("api.cli.audit", "screen a month of cases for the payer 医保智能审核"),
}


def help_of(name: str) -> str:
    """The one-line help of subcommand ``name``."""
    return COMMANDS[name][1]


__all__ = ["COMMANDS", "help_of"]
