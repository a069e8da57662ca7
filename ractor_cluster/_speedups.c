/* The hot frames of ractor_cluster in C: an optional accelerator of _framing / _wire.
 *
 * It does exactly what the pure-Python code does (ractor_cluster/_wire.py and _framing.py are
 * the reference; tests/ractor_cluster/test_speedups.py compares both on the same bytes):
 *
 * - split(data, pos, limit, decode): the complete frames of `data` from `pos` (a be64
 *   length, then the payload; docs/protocol.md section 1). A payload that is a NetworkMessage
 *   holding one Cast, Call or CallReply in the canonical shape (docs/protocol.md section 5)
 *   comes out as the tuple (arm, to, what, variant, tag, timeout_ms, metadata) when `decode`
 *   is true; every other payload comes out as bytes, for the Python code to read.
 * - cast_frame / call_frame / reply_frame: a whole frame, length prefix included, as prost
 *   writes it. Arguments outside what is written here (not bytes, not a u64, ...) go to the
 *   Python encoder registered with set_fallbacks, which writes them or raises its error.
 *
 * Nothing here keeps state between calls, and nothing reads past the buffer it is given.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifndef RACTOR_SOURCE_SHA256
#define RACTOR_SOURCE_SHA256 "unknown"
#endif

static PyObject *s_cast, *s_call, *s_reply, *empty_bytes, *empty_str;
static PyObject *fb_cast, *fb_call, *fb_reply; /* the Python encoders (set_fallbacks) */

/* ------------------------------------------------------------------ decoding */

/* A length of one or two varint bytes (the only ones the Python reader takes). */
static int
rd_len2(const unsigned char *d, Py_ssize_t end, Py_ssize_t *pos, Py_ssize_t *out)
{
    Py_ssize_t p = *pos;
    if (p >= end) return -1;
    unsigned int n = d[p];
    if (n < 0x80) {
        *out = n;
        *pos = p + 1;
        return 0;
    }
    if (p + 1 >= end) return -1;
    unsigned int b = d[p + 1];
    if (b >= 0x80) return -1;
    *out = (Py_ssize_t)((n & 0x7F) | (b << 7));
    *pos = p + 2;
    return 0;
}

/* A length of one varint byte. */
static int
rd_len1(const unsigned char *d, Py_ssize_t end, Py_ssize_t *pos, Py_ssize_t *out)
{
    Py_ssize_t p = *pos;
    if (p >= end || d[p] >= 0x80) return -1;
    *out = d[p];
    *pos = p + 1;
    return 0;
}

/* A u64 varint of at most ten bytes. */
static int
rd_u64(const unsigned char *d, Py_ssize_t end, Py_ssize_t *pos, uint64_t *out)
{
    uint64_t value = 0;
    unsigned int shift = 0;
    Py_ssize_t p = *pos;
    for (;;) {
        if (p >= end) return -1;
        unsigned int byte = d[p++];
        if (shift == 63 && (byte & 0x7F) > 1) return -1; /* past 64 bits */
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            *out = value;
            *pos = p;
            return 0;
        }
        shift += 7;
        if (shift > 63) return -1;
    }
}

/* The field key at pos, 0 at the end. */
#define KEY(d, pos, end) ((pos) < (end) ? (d)[pos] : 0)

/* The fields of each arm, in the order they are written (docs/protocol.md section 2.2):
 * each is optional and read at most once, in this order, as the Python reader does. */
enum { F_TO, F_WHAT, F_VARIANT, F_META, F_TAG, F_TIMEOUT, F_COUNT };
enum { VARINT, LEN1, LEN2 }; /* a u64 varint; bytes after a 1- or 2-byte varint length */
typedef struct {
    unsigned char key, kind, slot;
} field_t;
static const field_t CAST_FIELDS[] = {
    {0x08, VARINT, F_TO}, {0x12, LEN2, F_WHAT}, {0x1A, LEN1, F_VARIANT}, {0x32, LEN1, F_META},
    {0, 0, 0},
};
static const field_t CALL_FIELDS[] = {
    {0x08, VARINT, F_TO}, {0x12, LEN2, F_WHAT}, {0x18, VARINT, F_TAG},
    {0x20, VARINT, F_TIMEOUT}, {0x2A, LEN1, F_VARIANT}, {0x32, LEN1, F_META}, {0, 0, 0},
};
static const field_t REPLY_FIELDS[] = {
    {0x08, VARINT, F_TO}, {0x10, VARINT, F_TAG}, {0x1A, LEN1, F_WHAT}, {0, 0, 0},
};

/* The canonical node message in d[0:end], as a new tuple; NULL without an error set when
 * the shape is not the simple one (the caller keeps the bytes); NULL with an error set on
 * a memory error. */
static PyObject *
decode_node(const unsigned char *d, Py_ssize_t end)
{
    Py_ssize_t pos = 0, n = 0;
    if (end < 2 || d[0] != 0x12) return NULL;
    pos = 1;
    if (rd_len2(d, end, &pos, &n) < 0 || pos + n != end) return NULL;
    if (pos >= end) return NULL;
    unsigned int arm = d[pos++];
    if (rd_len2(d, end, &pos, &n) < 0 || pos + n != end) return NULL;

    const field_t *fields;
    PyObject *name;
    if (arm == 0x0A) {
        fields = CAST_FIELDS, name = s_cast;
    }
    else if (arm == 0x12) {
        fields = CALL_FIELDS, name = s_call;
    }
    else if (arm == 0x1A) {
        fields = REPLY_FIELDS, name = s_reply;
    }
    else {
        return NULL;
    }
    uint64_t value[F_COUNT] = {0};
    Py_ssize_t at[F_COUNT] = {0}, len[F_COUNT] = {0};
    int present[F_COUNT] = {0};
    for (const field_t *f = fields; f->key; f++) {
        if (KEY(d, pos, end) != f->key) continue;
        pos += 1;
        if (f->kind == VARINT) {
            if (rd_u64(d, end, &pos, &value[f->slot]) < 0) return NULL;
        }
        else {
            int bad = f->kind == LEN2 ? rd_len2(d, end, &pos, &len[f->slot])
                                      : rd_len1(d, end, &pos, &len[f->slot]);
            if (bad < 0 || pos + len[f->slot] > end) return NULL;
            at[f->slot] = pos;
            pos += len[f->slot];
        }
        present[f->slot] = 1;
    }
    if (pos != end) return NULL;
    uint64_t to = value[F_TO], tag = value[F_TAG], timeout = value[F_TIMEOUT];
    int has_timeout = present[F_TIMEOUT];
    Py_ssize_t what_at = at[F_WHAT], what_n = len[F_WHAT];
    Py_ssize_t var_at = at[F_VARIANT], var_n = len[F_VARIANT];
    Py_ssize_t meta_at = at[F_META], meta_n = present[F_META] ? len[F_META] : -1;

    PyObject *variant;
    if (var_n) {
        variant = PyUnicode_DecodeUTF8((const char *)d + var_at, var_n, NULL);
        if (variant == NULL) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyErr_Clear(); /* not valid UTF-8: protobuf decides */
            }
            return NULL;
        }
    }
    else {
        variant = Py_NewRef(empty_str);
    }
    PyObject *what = what_n ? PyBytes_FromStringAndSize((const char *)d + what_at, what_n)
                            : Py_NewRef(empty_bytes);
    PyObject *pto = PyLong_FromUnsignedLongLong(to);
    PyObject *ptag = PyLong_FromUnsignedLongLong(tag);
    PyObject *ptimeout = has_timeout ? PyLong_FromUnsignedLongLong(timeout) : Py_NewRef(Py_None);
    PyObject *meta = meta_n < 0 ? Py_NewRef(Py_None)
                                : PyBytes_FromStringAndSize((const char *)d + meta_at, meta_n);
    PyObject *t = NULL;
    if (what && pto && ptag && ptimeout && meta) {
        t = PyTuple_New(7);
    }
    if (t == NULL) {
        Py_DECREF(variant);
        Py_XDECREF(what);
        Py_XDECREF(pto);
        Py_XDECREF(ptag);
        Py_XDECREF(ptimeout);
        Py_XDECREF(meta);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, Py_NewRef(name));
    PyTuple_SET_ITEM(t, 1, pto);
    PyTuple_SET_ITEM(t, 2, what);
    PyTuple_SET_ITEM(t, 3, variant);
    PyTuple_SET_ITEM(t, 4, ptag);
    PyTuple_SET_ITEM(t, 5, ptimeout);
    PyTuple_SET_ITEM(t, 6, meta);
    return t;
}

/* split(data, pos, limit, decode) -> (items, next_pos, over_limit_length)
 *
 * next_pos is where the incomplete rest begins; over_limit_length is None, or the length in
 * the first prefix over `limit` (then next_pos is -1 and nothing after it was read). */
static PyObject *
split(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "split(data, pos, limit, decode)");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    unsigned long long limit = PyLong_AsUnsignedLongLong(args[2]);
    if (limit == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    int decode = PyObject_IsTrue(args[3]);
    if (decode < 0) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *d = (const unsigned char *)view.buf;
    Py_ssize_t size = view.len;
    PyObject *items = PyList_New(0);
    PyObject *bad = NULL;
    if (items == NULL) goto fail;
    if (pos < 0 || pos > size) {
        PyErr_SetString(PyExc_ValueError, "split: pos is outside the data");
        goto fail;
    }
    while (size - pos >= 8) {
        const unsigned char *p = d + pos;
        uint64_t length = ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) |
                          ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
                          ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
                          ((uint64_t)p[6] << 8) | (uint64_t)p[7];
        if (length > limit) {
            bad = PyLong_FromUnsignedLongLong(length);
            if (bad == NULL) goto fail;
            pos = -1;
            break;
        }
        if (length > (uint64_t)(size - pos - 8)) break;
        const unsigned char *payload = p + 8;
        Py_ssize_t n = (Py_ssize_t)length;
        PyObject *item = NULL;
        if (decode && n && payload[0] == 0x12) {
            item = decode_node(payload, n);
            if (item == NULL && PyErr_Occurred()) goto fail;
        }
        if (item == NULL) {
            item = PyBytes_FromStringAndSize((const char *)payload, n);
            if (item == NULL) goto fail;
        }
        if (PyList_Append(items, item) < 0) {
            Py_DECREF(item);
            goto fail;
        }
        Py_DECREF(item);
        pos += 8 + n;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(NnN)", items, pos, bad ? bad : Py_NewRef(Py_None));
fail:
    PyBuffer_Release(&view);
    Py_XDECREF(items);
    return NULL;
}

/* ------------------------------------------------------------------ encoding */

static Py_ssize_t
vlen(uint64_t v)
{
    Py_ssize_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static unsigned char *
wr_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)((v & 0x7F) | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* A length-delimited field's size: key, length, bytes (0 when skipped). */
#define LD_SIZE(n) (1 + vlen((uint64_t)(n)) + (n))

static unsigned char *
wr_ld(unsigned char *p, unsigned char key, const char *data, Py_ssize_t n)
{
    *p++ = key;
    p = wr_varint(p, (uint64_t)n);
    memcpy(p, data, (size_t)n);
    return p + n;
}

/* The frame around a NodeMessage arm of `body` bytes: returns the new bytes and where the
 * body goes. */
static PyObject *
frame_for(unsigned char arm, Py_ssize_t body, unsigned char **at)
{
    Py_ssize_t node = 1 + vlen((uint64_t)body) + body; /* NodeMessage.<arm> */
    Py_ssize_t net = 1 + vlen((uint64_t)node) + node;  /* NetworkMessage.node = 2 */
    PyObject *out = PyBytes_FromStringAndSize(NULL, 8 + net);
    if (out == NULL) return NULL;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(out);
    uint64_t len = (uint64_t)net;
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(len & 0xFF);
        len >>= 8;
    }
    p += 8;
    *p++ = 0x12;
    p = wr_varint(p, (uint64_t)node);
    *p++ = arm;
    p = wr_varint(p, (uint64_t)body);
    *at = p;
    return out;
}

/* A u64 from a Python int; -1 (and no error set) when it is not an int in range. */
static int
as_u64(PyObject *o, uint64_t *out)
{
    if (!PyLong_CheckExact(o)) return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    *out = v;
    return 0;
}

static PyObject *
fallback(PyObject *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (fn == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ractor_cluster._speedups: no fallback set");
        return NULL;
    }
    return PyObject_Vectorcall(fn, args, (size_t)nargs, kwnames);
}

/* Keyword arguments: the Python encoder takes them (the calls on the hot path have none). */
#define KEYWORDS_GO_TO(fn)                                       \
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames)) {          \
        return fallback((fn), args, nargs, kwnames);             \
    }

/* cast_frame(to, what, variant, metadata=None) */
static PyObject *
cast_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    KEYWORDS_GO_TO(fb_cast)
    uint64_t to;
    const char *variant;
    Py_ssize_t var_n;
    PyObject *meta = nargs > 3 ? args[3] : Py_None;
    if (nargs < 3 || nargs > 4 || as_u64(args[0], &to) < 0 || !PyBytes_CheckExact(args[1]) ||
        !PyUnicode_CheckExact(args[2]) || (meta != Py_None && !PyBytes_CheckExact(meta))) {
        return fallback(fb_cast, args, nargs, NULL);
    }
    variant = PyUnicode_AsUTF8AndSize(args[2], &var_n);
    if (variant == NULL) {
        PyErr_Clear(); /* surrogates: the Python encoder raises the error */
        return fallback(fb_cast, args, nargs, NULL);
    }
    Py_ssize_t what_n = PyBytes_GET_SIZE(args[1]);
    Py_ssize_t body = (to ? 1 + vlen(to) : 0) + (what_n ? LD_SIZE(what_n) : 0) +
                      (var_n ? LD_SIZE(var_n) : 0) +
                      (meta != Py_None ? LD_SIZE(PyBytes_GET_SIZE(meta)) : 0);
    unsigned char *p;
    PyObject *out = frame_for(0x0A, body, &p);
    if (out == NULL) return NULL;
    if (to) {
        *p++ = 0x08;
        p = wr_varint(p, to);
    }
    if (what_n) p = wr_ld(p, 0x12, PyBytes_AS_STRING(args[1]), what_n);
    if (var_n) p = wr_ld(p, 0x1A, variant, var_n);
    if (meta != Py_None) p = wr_ld(p, 0x32, PyBytes_AS_STRING(meta), PyBytes_GET_SIZE(meta));
    return out;
}

/* call_frame(to, what, tag, timeout_ms, variant, metadata=None) */
static PyObject *
call_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    KEYWORDS_GO_TO(fb_call)
    uint64_t to, tag, timeout = 0;
    const char *variant;
    Py_ssize_t var_n;
    if (nargs < 5 || nargs > 6) return fallback(fb_call, args, nargs, NULL);
    PyObject *meta = nargs > 5 ? args[5] : Py_None;
    int has_timeout = args[3] != Py_None;
    if (as_u64(args[0], &to) < 0 || !PyBytes_CheckExact(args[1]) || as_u64(args[2], &tag) < 0 ||
        (has_timeout && as_u64(args[3], &timeout) < 0) || !PyUnicode_CheckExact(args[4]) ||
        (meta != Py_None && !PyBytes_CheckExact(meta))) {
        return fallback(fb_call, args, nargs, NULL);
    }
    variant = PyUnicode_AsUTF8AndSize(args[4], &var_n);
    if (variant == NULL) {
        PyErr_Clear();
        return fallback(fb_call, args, nargs, NULL);
    }
    Py_ssize_t what_n = PyBytes_GET_SIZE(args[1]);
    Py_ssize_t body = (to ? 1 + vlen(to) : 0) + (what_n ? LD_SIZE(what_n) : 0) +
                      (tag ? 1 + vlen(tag) : 0) + (has_timeout ? 1 + vlen(timeout) : 0) +
                      (var_n ? LD_SIZE(var_n) : 0) +
                      (meta != Py_None ? LD_SIZE(PyBytes_GET_SIZE(meta)) : 0);
    unsigned char *p;
    PyObject *out = frame_for(0x12, body, &p);
    if (out == NULL) return NULL;
    if (to) {
        *p++ = 0x08;
        p = wr_varint(p, to);
    }
    if (what_n) p = wr_ld(p, 0x12, PyBytes_AS_STRING(args[1]), what_n);
    if (tag) {
        *p++ = 0x18;
        p = wr_varint(p, tag);
    }
    if (has_timeout) {
        *p++ = 0x20;
        p = wr_varint(p, timeout);
    }
    if (var_n) p = wr_ld(p, 0x2A, variant, var_n);
    if (meta != Py_None) p = wr_ld(p, 0x32, PyBytes_AS_STRING(meta), PyBytes_GET_SIZE(meta));
    return out;
}

/* reply_frame(to, tag, what) */
static PyObject *
reply_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    KEYWORDS_GO_TO(fb_reply)
    uint64_t to, tag;
    if (nargs != 3 || as_u64(args[0], &to) < 0 || as_u64(args[1], &tag) < 0 ||
        !PyBytes_CheckExact(args[2])) {
        return fallback(fb_reply, args, nargs, NULL);
    }
    Py_ssize_t what_n = PyBytes_GET_SIZE(args[2]);
    Py_ssize_t body = (to ? 1 + vlen(to) : 0) + (tag ? 1 + vlen(tag) : 0) +
                      (what_n ? LD_SIZE(what_n) : 0);
    unsigned char *p;
    PyObject *out = frame_for(0x1A, body, &p);
    if (out == NULL) return NULL;
    if (to) {
        *p++ = 0x08;
        p = wr_varint(p, to);
    }
    if (tag) {
        *p++ = 0x10;
        p = wr_varint(p, tag);
    }
    if (what_n) p = wr_ld(p, 0x1A, PyBytes_AS_STRING(args[2]), what_n);
    return out;
}

/* set_fallbacks(cast_frame, call_frame, reply_frame): the Python encoders. */
static PyObject *
set_fallbacks(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "set_fallbacks(cast, call, reply)");
        return NULL;
    }
    Py_XSETREF(fb_cast, Py_NewRef(args[0]));
    Py_XSETREF(fb_call, Py_NewRef(args[1]));
    Py_XSETREF(fb_reply, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"split", (PyCFunction)(void (*)(void))split, METH_FASTCALL,
     "split(data, pos, limit, decode) -> (items, next_pos, over_limit_length)"},
    {"cast_frame", (PyCFunction)(void (*)(void))cast_frame, METH_FASTCALL | METH_KEYWORDS,
     "A whole Cast frame (length prefix included)."},
    {"call_frame", (PyCFunction)(void (*)(void))call_frame, METH_FASTCALL | METH_KEYWORDS,
     "A whole Call frame (length prefix included)."},
    {"reply_frame", (PyCFunction)(void (*)(void))reply_frame, METH_FASTCALL | METH_KEYWORDS,
     "A whole CallReply frame (length prefix included)."},
    {"set_fallbacks", (PyCFunction)(void (*)(void))set_fallbacks, METH_FASTCALL,
     "Set the Python encoders for what the C encoders do not write."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ractor_cluster._speedups",
    "The hot frames of ractor_cluster in C (optional; the Python code is the reference).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    s_cast = PyUnicode_InternFromString("cast");
    s_call = PyUnicode_InternFromString("call");
    s_reply = PyUnicode_InternFromString("reply");
    empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
    empty_str = PyUnicode_FromStringAndSize(NULL, 0);
    if (!s_cast || !s_call || !s_reply || !empty_bytes || !empty_str) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    /* the SHA-256 of this file when it was compiled (hatch_build.py): a build older than the
     * source beside it is not used (ractor_cluster/_accel.py) */
    if (PyModule_AddStringConstant(m, "SOURCE_SHA256", RACTOR_SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
