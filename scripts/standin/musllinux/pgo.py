# The profile a PGO build of a stand-in's CPython trains on: what a wheel
# build asks of the interpreter (pip installing from the wheelhouse,
# setuptools building a C extension's wheel, auditwheel repairing it, pytest
# testing it), run by the interpreter in its build folder (cpython.sh). A
# failing step fails the build.
import glob, os, shutil, subprocess, sys, tempfile

wheelhouse = "/opt/wheelhouse"
work = tempfile.mkdtemp()
site = os.path.join(work, "site")
pip = glob.glob(f"{wheelhouse}/pip-*.whl")[0]
env = dict(os.environ, PYTHONPATH=os.pathsep.join([site, pip]))
# The base image names its own platform.
env.pop("AUDITWHEEL_PLAT", None)
env.pop("AUDITWHEEL_POLICY", None)


def run(*args, cwd=None):
    subprocess.run([sys.executable, *args], env=env, cwd=cwd, check=True)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


run("-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheelhouse,
    "--target", site, "setuptools", "wheel", "build", "auditwheel", "pytest")
project = os.path.join(work, "project")
write(os.path.join(project, "pyproject.toml"),
      '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n')
write(os.path.join(project, "setup.py"),
      "from setuptools import Extension, setup\n"
      "setup(name='demo', version='1.0', packages=['demo'],"
      " ext_modules=[Extension('demo._c', ['demo/_c.c'])])\n")
write(os.path.join(project, "demo", "__init__.py"), "from ._c import answer\n")
write(os.path.join(project, "demo", "_c.c"),
      "#include <Python.h>\n"
      "static PyObject *answer(PyObject *m, PyObject *a) { return PyLong_FromLong(42); }\n"
      "static PyMethodDef methods[] = {{\"answer\", answer, METH_NOARGS, NULL}, {NULL}};\n"
      "static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, \"_c\", NULL, -1, methods};\n"
      "PyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&def); }\n")
write(os.path.join(project, "tests", "test_demo.py"),
      "import demo\n\ndef test_answer():\n    assert demo.answer() == 42\n")
dist = os.path.join(work, "dist")
run("-m", "build", "--no-isolation", "--wheel", "--outdir", dist, project)
repaired = os.path.join(work, "repaired")
run("-m", "auditwheel", "repair", "-w", repaired, glob.glob(os.path.join(dist, "*.whl"))[0])
installed = os.path.join(work, "installed")
run("-m", "pip", "install", "--quiet", "--no-index", "--target", installed,
    glob.glob(os.path.join(repaired, "*.whl"))[0])
env["PYTHONPATH"] = os.pathsep.join([installed, site])
run("-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.join(project, "tests"), cwd=work)
# Nothing of it stays in the image.
shutil.rmtree(work)
