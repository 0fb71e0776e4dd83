import platform
import fastsum

assert fastsum.total([1, 2, 3.5]) == 6.5
assert fastsum.machine == platform.machine(), (fastsum.machine, platform.machine())
print("the extension's machine is the interpreter's:", fastsum.machine)
