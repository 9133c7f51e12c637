"""Scale-out on Apache Spark (分布式分组与结算): the same kernels on the executors, exact integer sums.

Optional: ``pip install .[spark]`` (PySpark; a Java runtime).  The modules import PySpark only
where they need it, so importing this package without PySpark works.
"""

from scaleout.grouping import RESULT_SCHEMA, group_spark
from scaleout.session import spark_session

__all__ = ["RESULT_SCHEMA", "group_spark", "spark_session"]
