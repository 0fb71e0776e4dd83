#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The sum of a sequence of floats. */
static PyObject *total(PyObject *self, PyObject *values) {
    PyObject *seq = PySequence_Fast(values, "total() takes a sequence");
    if (seq == NULL) {
        return NULL;
    }
    double s = 0;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return NULL;
        }
        s += v;
    }
    Py_DECREF(seq);
    return PyFloat_FromDouble(s);
}

static PyMethodDef methods[] = {
    {"total", total, METH_O, "The sum of a sequence of floats."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "mesonsum", NULL, -1, methods};

PyMODINIT_FUNC PyInit_mesonsum(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    /* What meson took the host machine for, baked in. */
    if (PyModule_AddStringConstant(m, "machine", MESON_CPU) < 0
        || PyModule_AddStringConstant(m, "endian", MESON_ENDIAN) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
