#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zcrc.h"

static PyObject *checksum(PyObject *args, unsigned long (*f)(const unsigned char *, size_t)) {
    Py_buffer view;
    unsigned long value;
    if (!PyArg_ParseTuple(args, "y*", &view)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    value = f((const unsigned char *)view.buf, (size_t)view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(value);
}

static PyObject *py_crc32(PyObject *self, PyObject *args) { return checksum(args, zcrc_crc32); }

static PyObject *py_adler32(PyObject *self, PyObject *args) { return checksum(args, zcrc_adler32); }

static PyObject *py_zlib_version(PyObject *self, PyObject *noargs) {
    return PyUnicode_FromString(zcrc_zlib_version());
}

static PyMethodDef methods[] = {
    {"crc32", py_crc32, METH_VARARGS, "CRC-32 of a bytes-like object, as zlib computes it."},
    {"adler32", py_adler32, METH_VARARGS, "Adler-32 of a bytes-like object, as zlib computes it."},
    {"zlib_version", py_zlib_version, METH_NOARGS, "The version of the zlib linked in."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
