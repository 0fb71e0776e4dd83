import platform
import sys

import mesonsum

assert mesonsum.total([1, 2, 3.5]) == 6.5
assert mesonsum.machine == platform.machine(), (mesonsum.machine, platform.machine())
assert mesonsum.endian == sys.byteorder, (mesonsum.endian, sys.byteorder)
print("the extension's machine is the interpreter's:", mesonsum.machine, mesonsum.endian)
