"""Machine operations Numba does not offer, for the kernels of every layer.

* :func:`prefetch`: bring a table row into cache before it is read, so that the
  loads of rows that miss the caches overlap instead of waiting one after another;
* :func:`load_word` and :func:`store_word`: eight bytes of a byte array as one
  little-endian word, at any offset (an unaligned load or store), so that a
  kernel reads and copies short strings eight bytes a step.

They bypass Numba's bounds handling: the caller keeps every access in bounds.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, arr, row):
    """Ask the CPU to bring row ``row`` of ``arr`` into cache (its first and its last element); results do not
    depend on it, and no row is read: a prefetch of an address outside the array is harmless."""
    sig = types.void(arr, row)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        i32, one = ir.IntType(32), context.get_constant(types.intp, 1)
        columns = cgutils.unpack_tuple(builder, array.shape, array_type.ndim)[1:]
        ends = [[context.get_constant(types.intp, 0)] * len(columns)]
        if columns:
            ends.append([builder.sub(n, one) for n in columns])
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32]),
            "llvm.prefetch.p0")
        for end in ends:
            address = cgutils.get_item_pointer(context, builder, array_type, array, [index, *end], wraparound=False)
            builder.call(prefetch, [builder.bitcast(address, ir.IntType(8).as_pointer()), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


def _word_address(context, builder, signature, args):
    array = context.make_array(signature.args[0])(context, builder, args[0])
    index = context.cast(builder, args[1], signature.args[1], types.intp)
    return builder.bitcast(builder.gep(array.data, [index]), ir.IntType(64).as_pointer())


@intrinsic
def load_word(typingctx, arr, i):
    """The bytes ``arr[i:i + 8]`` of a ``uint8`` array as one ``uint64`` (little-endian on x86 and ARM)."""
    def codegen(context, builder, signature, args):
        return builder.load(_word_address(context, builder, signature, args), align=1)

    return types.uint64(arr, i), codegen


@intrinsic
def store_word(typingctx, arr, i, word):
    """Write the ``uint64`` ``word`` to the bytes ``arr[i:i + 8]`` of a ``uint8`` array."""
    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[2], signature.args[2], types.uint64)
        builder.store(value, _word_address(context, builder, signature, args), align=1)
        return context.get_dummy_value()

    return types.void(arr, i, word), codegen


__all__ = ["load_word", "prefetch", "store_word"]
