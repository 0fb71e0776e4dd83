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

static PyObject *py_bz2_compress(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *result;
    size_t cap, out_len;
    int rc;
    if (!PyArg_ParseTuple(args, "y*", &view)) {
        return NULL;
    }
    /* bzip2's documented worst case: 1% larger plus 600 bytes. */
    cap = (size_t)view.len + (size_t)view.len / 100 + 601;
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (result == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    out_len = cap;
    Py_BEGIN_ALLOW_THREADS
    rc = zcrc_bz2_compress((const unsigned char *)view.buf, (size_t)view.len,
                           (unsigned char *)PyBytes_AS_STRING(result), &out_len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (rc != 0) {
        Py_DECREF(result);
        return PyErr_Format(PyExc_RuntimeError, "libbz2 failed with code %d", rc);
    }
    if (_PyBytes_Resize(&result, (Py_ssize_t)out_len) < 0) {
        return NULL;
    }
    return result;
}

static PyMethodDef methods[] = {
    {"bz2_compress", py_bz2_compress, METH_VARARGS, "bzip2 stream of a bytes-like object, as libbz2 makes it."},
    {"crc32", py_crc32, METH_VARARGS, "CRC-32 of a bytes-like object, as zlib computes it."},
    {"adler32", py_adler32, METH_VARARGS, "Adler-32 of a bytes-like object, as zlib computes it."},
    {"zlib_version", py_zlib_version, METH_NOARGS, "The version of the zlib linked in."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&module);
#ifdef Py_GIL_DISABLED
    /* It keeps no state of its own: free-threaded CPython may run it
       without the GIL. */
    if (m != NULL && PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
