// corenn.Tensor in Python: construction, NumPy (buffer protocol, zero-copy both ways), DLPack
// (both ways), reshape views; plus the runtime knobs (threads, ISA).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <algorithm>
#include <type_traits>

#include "bindings/register.h"
#include "core/cpu_features.h"
#include "core/dispatch.h"
#include "core/dlpack.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "cpu/gemm/gemm.h"
#ifdef CORENN_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace corenn::bindings {

namespace {

// How each DType meets NumPy and DLPack, in enumerator order: NumPy's kind and buffer format
// character, and DLPack's type code and bit width.
struct DTypeCodes {
  char kind;
  const char* format;
  uint8_t dl_code;
};
constexpr DTypeCodes kDTypeCodes[kNumDTypes] = {
    {'f', "f", kDLFloat}, {'i', "i", kDLInt}, {'i', "q", kDLInt},   // float32 int32 int64
    {'f', "d", kDLFloat}, {'f', "e", kDLFloat}, {'u', "B", kDLUInt},  // float64 float16 uint8
    {'i', "b", kDLInt},   {'u', "H", kDLUInt}, {'i', "h", kDLInt},    // int8 uint16 int16
    {'u', "I", kDLUInt},  {'u', "Q", kDLUInt}, {'b', "?", kDLBool},   // uint32 uint64 bool
};

const DTypeCodes& codes(DType dtype) { return kDTypeCodes[static_cast<int>(dtype)]; }

// The DType of a NumPy dtype with that kind and item size, in the machine's byte order (a
// byte-swapped array would be read as garbage, so it is refused by name).
DType dtype_of_numpy(const py::array& a) {
  const py::dtype dt = a.dtype();
  const std::string order = py::str(dt.attr("byteorder"));
  if (order == "=" || order == "|") {
    for (int i = 0; i < kNumDTypes; ++i) {
      const DType d = static_cast<DType>(i);
      if (dt.kind() == codes(d).kind && static_cast<size_t>(dt.itemsize()) == dtype_size(d)) return d;
    }
  }
  throw TypeError("corenn.Tensor holds float32 / int32 / int64 (computed in) and float64, float16, "
                  "uint8, int8, uint16, int16, uint32, uint64, bool (stored) arrays in the machine's "
                  "byte order, got " + std::string(py::str(dt)) + "; convert with .astype('float32') "
                  "(data) or .astype('int64') (labels)");
}

std::string numpy_format(DType dtype) { return codes(dtype).format; }

// A shape argument from Python: any iterable of integers (int, numpy integers). Converted here, not
// by pybind11's vector<int64_t> caster, so that a dimension beyond int64 raises a ValueError that
// names the op and the shape instead of a bare "incompatible function arguments".
std::vector<int64_t> shape_arg(const char* op, const py::handle& obj) {
  if (py::isinstance<py::str>(obj) || py::isinstance<py::bytes>(obj) || !py::hasattr(obj, "__iter__")) {
    throw TypeError(std::string(op) + ": shape must be a sequence of ints, got " +
                    std::string(py::str(py::repr(obj))));
  }
  std::vector<int64_t> shape;
  for (py::handle item : obj) {
    if (!PyIndex_Check(item.ptr())) {
      throw TypeError(std::string(op) + ": shape " + std::string(py::str(py::repr(obj))) +
                      " must hold ints, got " + std::string(py::str(py::repr(item))));
    }
    py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
    if (!index) throw py::error_already_set();
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (overflow) {
      throw Error(std::string(op) + ": shape " + std::string(py::str(py::repr(obj))) +
                  " is too large: dimension " + std::to_string(shape.size()) +
                  " does not fit in int64");
    }
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

// The value fill_ writes, as T, refusing what T cannot hold: for an integer tensor NaN, +-inf,
// a non-integral float or a value outside T's range (a float->int cast of those is undefined
// behaviour: fill_(nan) used to give -2**31); for float32 a finite value beyond float32's range.
// Python ints are converted exactly (no detour through double, which rounds above 2**53).
template <class T>
T fill_value(const py::handle& value, DType dtype) {
  const char* op = "fill_";
  const std::string shown = py::str(py::repr(value));
  const bool is_integer = PyIndex_Check(value.ptr()) && !PyFloat_Check(value.ptr());
  if constexpr (std::is_integral_v<T>) {
    if (is_integer) {
      py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
      if (!index) throw py::error_already_set();
      int overflow = 0;
      const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
      if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
      if constexpr (std::is_unsigned_v<T> && sizeof(T) == 8) {
        if (overflow > 0) {   // above 2**63: uint64 still holds it up to 2**64 - 1
          const unsigned long long u = PyLong_AsUnsignedLongLong(index.ptr());
          if (PyErr_Occurred()) {
            PyErr_Clear();
            CORENN_CHECK(false, op, ": ", shown, " is out of range for dtype ", dtype_name(dtype));
          }
          return static_cast<T>(u);
        }
      }
      // Compared as long double, which holds every long long and T's bounds exactly enough
      // (uint64's max is 2**64 - 1; only the last long long above 2**63 could blur, and a long
      // long never gets there).
      const auto lv = static_cast<long double>(v);
      CORENN_CHECK(!overflow && lv >= static_cast<long double>(std::numeric_limits<T>::min()) &&
                       lv <= static_cast<long double>(std::numeric_limits<T>::max()),
                   op, ": ", shown, " is out of range for dtype ", dtype_name(dtype));
      return static_cast<T>(v);
    }
  }
  const double d = PyFloat_AsDouble(value.ptr());
  if (d == -1.0 && PyErr_Occurred()) {
    const bool overflow = PyErr_ExceptionMatches(PyExc_OverflowError);
    PyErr_Clear();
    CORENN_CHECK(!overflow, op, ": ", shown, " is out of range for dtype ", dtype_name(dtype));
    throw TypeError(std::string(op) + ": value must be a real number, got " + shown);
  }
  if constexpr (std::is_integral_v<T>) {
    CORENN_CHECK(std::isfinite(d), op, ": cannot fill a tensor of dtype ", dtype_name(dtype), " with ", shown);
    CORENN_CHECK(d == std::trunc(d), op, ": ", shown, " is not a whole number, which dtype ",
                 dtype_name(dtype), " needs (round it first)");
    // [min, max + 1) in double: both bounds are 0 or powers of two, exact in double.
    const double lo = static_cast<double>(std::numeric_limits<T>::min());
    const double hi = std::ldexp(1.0, std::numeric_limits<T>::digits);
    CORENN_CHECK(d >= lo && d < hi, op, ": ", shown, " is out of range for dtype ", dtype_name(dtype));
    return static_cast<T>(d);
  } else {
    if constexpr (std::is_same_v<T, float>)
      CORENN_CHECK(!std::isfinite(d) || std::fabs(d) <= FLT_MAX, op, ": ", shown,
                   " is out of range for dtype float32");
    return static_cast<T>(d);
  }
}

// float16's bits for a double (IEEE binary16, round to nearest even; out of range refused by
// fill_value_bytes before this), written out because neither C++17 nor every target CPU has it.
uint16_t half_bits(double d) {
  const uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  d = std::fabs(d);
  if (std::isnan(d)) return 0x7e00;
  if (std::isinf(d)) return sign | 0x7c00;
  if (d == 0) return sign;
  int e;
  std::frexp(d, &e);                        // d = m * 2^e, m in [0.5, 1)
  const int exp = std::max(e - 1, -14);     // binary16's exponent; -14 covers the subnormals
  // d in units of the last place at that exponent (10 fraction bits), rounded to nearest even.
  const double units = std::nearbyint(std::ldexp(d, 10 - exp));
  auto u = static_cast<uint32_t>(units);
  if (exp == -14 && u < 0x400) return sign | static_cast<uint16_t>(u);   // subnormal (or rounds to one)
  if (u == 0x800) return sign | static_cast<uint16_t>(((exp + 1 + 15) << 10));  // rounded up to 2^(exp+1)
  return sign | static_cast<uint16_t>(((exp + 15) << 10) | (u - 0x400));
}

// The bytes of one element of `dtype` holding `value`, checked as fill_value checks (an integer
// dtype takes whole numbers in its range; bool takes True / False / 0 / 1, float16 what it can hold).
std::vector<unsigned char> fill_value_bytes(const py::handle& value, DType dtype) {
  std::vector<unsigned char> out(dtype_size(dtype));
  auto put = [&](auto v) { std::memcpy(out.data(), &v, sizeof v); };
  switch (dtype) {
    case DType::float32: put(fill_value<float>(value, dtype)); break;
    case DType::int32: put(fill_value<int32_t>(value, dtype)); break;
    case DType::int64: put(fill_value<int64_t>(value, dtype)); break;
    case DType::float64: put(fill_value<double>(value, dtype)); break;
    case DType::uint8: put(fill_value<uint8_t>(value, dtype)); break;
    case DType::int8: put(fill_value<int8_t>(value, dtype)); break;
    case DType::uint16: put(fill_value<uint16_t>(value, dtype)); break;
    case DType::int16: put(fill_value<int16_t>(value, dtype)); break;
    case DType::uint32: put(fill_value<uint32_t>(value, dtype)); break;
    case DType::uint64: put(fill_value<uint64_t>(value, dtype)); break;
    case DType::float16: {
      const double d = fill_value<double>(value, dtype);
      CORENN_CHECK(!std::isfinite(d) || std::fabs(d) < 65520.0, "fill_: ",
                   std::string(py::str(py::repr(value))), " is out of range for dtype float16");
      put(half_bits(d));
      break;
    }
    case DType::bool_: {
      const double d = fill_value<double>(value, dtype);
      CORENN_CHECK(d == 0 || d == 1, "fill_: a bool tensor takes True / False (or 1 / 0), got ",
                   std::string(py::str(py::repr(value))));
      put(static_cast<uint8_t>(d));
      break;
    }
  }
  return out;
}

// Every element of the CPU tensor t set to the bytes of one element.
void fill_bytes(const Tensor& t, const std::vector<unsigned char>& elem) {
  auto* p = static_cast<unsigned char*>(t.raw_data());
  const size_t n = static_cast<size_t>(t.numel()), size = elem.size();
  if (n == 0) return;
  switch (size) {   // typed fills for the common widths (the compiler vectorizes them)
    case 1: std::memset(p, elem[0], n); return;
    case 4: { uint32_t v; std::memcpy(&v, elem.data(), 4); std::fill_n(reinterpret_cast<uint32_t*>(p), n, v); return; }
    case 8: { uint64_t v; std::memcpy(&v, elem.data(), 8); std::fill_n(reinterpret_cast<uint64_t*>(p), n, v); return; }
    default:
      for (size_t i = 0; i < n; ++i) std::memcpy(p + i * size, elem.data(), size);
  }
}

// Zero-copy: the Tensor borrows the array's buffer and keeps the array alive until released. A
// read-only array (writeable=False) gives a read-only Tensor: ops read it but refuse to write it.
Tensor from_numpy(const py::object& obj) {
  if (!py::isinstance<py::array>(obj)) {
    throw TypeError("expected a numpy.ndarray or corenn.Tensor, got " +
                    std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  }
  py::array a = py::reinterpret_borrow<py::array>(obj);
  const DType dtype = dtype_of_numpy(a);
  if (!(a.flags() & py::array::c_style)) {
    throw Error("array of shape " + std::string(py::str(a.attr("shape"))) +
                " is not C-contiguous; corenn tensors are contiguous row-major: pass "
                "numpy.ascontiguousarray(x)");
  }
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  void* data = const_cast<void*>(a.data());
  auto* owner = new py::object(a);
  const bool read_only = !a.writeable();
  auto storage = Storage::borrow(data, static_cast<size_t>(a.nbytes()), Device{}, [owner] {
    py::gil_scoped_acquire gil;
    delete owner;
  }, read_only);
  return Tensor(std::move(storage), std::move(shape), dtype);
}

// ---- DLPack ---------------------------------------------------------------------------------

struct ExportContext {
  Tensor tensor;  // keeps the storage alive while the consumer holds the capsule
  std::vector<int64_t> shape;
};

void delete_exported(DLManagedTensor* self) {
  auto* ctx = static_cast<ExportContext*>(self->manager_ctx);
  ctx->tensor.storage()->release_export();  // the consumer may have written through it
  delete ctx;
  delete self;
}

DLDataType to_dl_dtype(DType dtype) {
  return DLDataType{codes(dtype).dl_code, static_cast<uint8_t>(8 * dtype_size(dtype)), 1};
}

py::capsule to_dlpack(const Tensor& t) {
  // A legacy DLPack capsule cannot say "read-only", so a consumer would write the memory; NumPy
  // refuses to export its read-only arrays the same way.
  if (t.read_only())
    throw py::buffer_error("__dlpack__: the tensor is read-only (borrowed from a read-only array) "
                           "and DLPack cannot signal that; copy it first (np.array(t))");
#ifdef CORENN_WITH_CUDA
  // Kernels run on corenn's own stream: finish them before another library reads the memory.
  if (!t.device().is_cpu()) cuda::synchronize(t.device().index);
#endif
  auto* ctx = new ExportContext{t, t.shape()};
  t.storage()->add_export();  // a writable view: the storage's version cannot vouch until it ends
  auto* managed = new DLManagedTensor{};
  managed->dl_tensor.data = t.raw_data();
  managed->dl_tensor.device = DLDevice{t.device().is_cpu() ? kDLCPU : kDLCUDA, t.device().index};
  managed->dl_tensor.ndim = static_cast<int32_t>(t.dim());
  managed->dl_tensor.dtype = to_dl_dtype(t.dtype());
  managed->dl_tensor.shape = ctx->shape.data();
  managed->dl_tensor.strides = nullptr;
  managed->dl_tensor.byte_offset = 0;
  managed->manager_ctx = ctx;
  managed->deleter = delete_exported;
  // A consumer renames the capsule to "used_dltensor" and takes ownership; an unconsumed capsule
  // frees the tensor itself.
  return py::capsule(managed, "dltensor", [](PyObject* capsule) {
    if (PyCapsule_IsValid(capsule, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
      if (m && m->deleter) m->deleter(m);
    }
  });
}

Tensor from_dlpack(const py::object& obj) {
  py::object capsule_obj = obj;
  if (py::hasattr(obj, "__dlpack__")) {
#ifdef CORENN_WITH_CUDA
    if (py::hasattr(obj, "__dlpack_device__")) {
      py::tuple dev = obj.attr("__dlpack_device__")();
      if (dev[0].cast<int>() == kDLCUDA) {
        // DLPack's stream argument: the producer orders its pending work before our stream.
        const int index = dev[1].cast<int>();
        cuda::require_device(Device{DeviceType::cuda, index});
        capsule_obj = obj.attr("__dlpack__")(
            py::arg("stream") = reinterpret_cast<uintptr_t>(cuda::stream(index)));
      }
    }
#endif
    if (capsule_obj.is(obj)) capsule_obj = obj.attr("__dlpack__")();
  }
  PyObject* capsule = capsule_obj.ptr();
  if (!PyCapsule_IsValid(capsule, "dltensor")) {
    throw TypeError("from_dlpack: expected an object with __dlpack__ or an unused 'dltensor' capsule");
  }
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
  const DLTensor& dl = managed->dl_tensor;
  auto fail = [&](const std::string& why) -> Tensor { throw Error("from_dlpack: " + why); };

  if (dl.dtype.lanes != 1) return fail("vector dtypes (lanes != 1) are not supported");
  int found = -1;
  for (int i = 0; i < kNumDTypes; ++i) {
    const DType d = static_cast<DType>(i);
    if (dl.dtype.code == codes(d).dl_code && dl.dtype.bits == 8 * dtype_size(d)) found = i;
  }
  if (found < 0)
    throw TypeError("from_dlpack: unsupported dtype (code " + std::to_string(dl.dtype.code) + ", " +
                    std::to_string(dl.dtype.bits) + " bits); corenn takes float 16/32/64, int and "
                    "uint 8/16/32/64 and bool");
  const DType dtype = static_cast<DType>(found);

  Device device;
  if (dl.device.device_type == kDLCPU || dl.device.device_type == kDLCUDAHost) device = Device{};
  else if (dl.device.device_type == kDLCUDA) device = Device{DeviceType::cuda, dl.device.device_id};
  else return fail("unsupported device type " + std::to_string(dl.device.device_type));

  if (dl.ndim < 0 || (dl.ndim > 0 && !dl.shape)) return fail("invalid ndim or shape");
  std::vector<int64_t> shape(dl.shape, dl.shape + dl.ndim);
  const int64_t numel = checked_numel("from_dlpack", shape, dtype);  // refuses overflowing shapes
  if (dl.strides) {  // accept strides only when they describe a compact row-major layout
    int64_t expected = 1;
    for (int i = dl.ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && dl.strides[i] != expected)
        return fail("the tensor is not contiguous row-major; make it contiguous first");
      expected *= shape[i];
    }
  }
  void* data = static_cast<char*>(dl.data) + dl.byte_offset;
  PyCapsule_SetName(capsule, "used_dltensor");
  auto storage = Storage::borrow(data, static_cast<size_t>(numel) * dtype_size(dtype), device,
                                 [managed] { if (managed->deleter) managed->deleter(managed); });
  return Tensor(std::move(storage), std::move(shape), dtype);
}

// The class Tensor.shape returns: corenn.kernels.TensorShape (a tuple with TensorFlow's
// as_list / rank / num_elements), registered by Python at import through _set_shape_class; a plain
// tuple before that. Held for the life of the process (never released: no teardown ordering).
PyObject* g_shape_class = nullptr;

// What Tensor.dtype returns once Python registered corenn.kernels.DTypeName (a str with
// TensorFlow's DType attributes: .name, .is_floating ...): one shared instance per dtype, so the
// property allocates nothing; a plain str before that.
PyObject* g_dtype_names[kNumDTypes] = {};

py::object dtype_object(const Tensor& t) {
  PyObject* cached = g_dtype_names[static_cast<int>(t.dtype())];
  if (cached == nullptr) return py::str(dtype_name(t.dtype()));
  return py::reinterpret_borrow<py::object>(cached);
}

py::object shape_tuple(const Tensor& t) {
  const int64_t n = t.dim();
  if (g_shape_class == nullptr) {
    py::tuple out(n);
    for (int64_t i = 0; i < n; ++i) out[i] = t.shape()[i];
    return std::move(out);
  }
  // One allocation of the tuple subclass, filled in place (as CPython's own tuple_subtype_new
  // does): the shape is read on every layer call, so no intermediate tuple and no Python call.
  auto* type = reinterpret_cast<PyTypeObject*>(g_shape_class);
  PyObject* shaped = type->tp_alloc(type, static_cast<Py_ssize_t>(n));
  if (shaped == nullptr) throw py::error_already_set();
  for (int64_t i = 0; i < n; ++i) {
    PyObject* dim = PyLong_FromLongLong(t.shape()[i]);
    if (dim == nullptr) {
      Py_DECREF(shaped);
      throw py::error_already_set();
    }
    PyTuple_SET_ITEM(shaped, i, dim);
  }
  return py::reinterpret_steal<py::object>(shaped);
}

void require_cpu(const Tensor& t, const char* what) {
  CORENN_CHECK(t.device().is_cpu(), what, ": the tensor is on ", t.device().str(),
               "; call .cpu() first");
}

// Runs `parse` and puts `op` in front of the message of a corenn::Error it raises (same type),
// so "invalid device 'gpu'" says which call it came from.
template <class F>
auto naming_op(const char* op, F&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const TypeError& e) {
    throw TypeError(std::string(op) + ": " + e.what());
  } catch (const Error& e) {
    throw Error(std::string(op) + ": " + e.what());
  }
}

Device parse_device(const char* op, const py::object& device) {
  return naming_op(op, [&] { return Device::parse(py::str(device)); });
}

DType parse_dtype(const char* op, const std::string& dtype) {
  return naming_op(op, [&] { return dtype_from_name(dtype); });
}

// The CPU copy of a tensor as a NumPy array (a view when it already lives on the CPU).
py::array to_numpy(py::object self) {
  const Tensor& t = self.cast<const Tensor&>();
  if (t.device().is_cpu()) return py::array(py::buffer(self));  // the array keeps self alive
  py::object host = py::cast(t.to(Device{}));
  return py::array(py::buffer(host));
}

// ---- writable buffer exports and write versions ----------------------------------------------
//
// A NumPy view of a tensor (np.asarray(t), t.numpy(), memoryview(t)) can be written at any time
// while it lives, and no op entry sees those writes. So each writable buffer export counts as a
// live export of the storage (Storage::versions_trusted() is false meanwhile) and its release
// bumps the version. pybind11's def_buffer owns the type's getbuffer / releasebuffer slots; these
// wrap them, keeping pybind11's own per-view pointer inside ours.

struct ExportedView {
  void* pybind_internal;
  std::shared_ptr<Storage> storage;
};

getbufferproc pybind_getbuffer = nullptr;
releasebufferproc pybind_releasebuffer = nullptr;

int counted_getbuffer(PyObject* obj, Py_buffer* view, int flags) {
  const int rc = pybind_getbuffer(obj, view, flags);
  if (rc != 0 || view->readonly) return rc;
  try {
    const Tensor& t = py::handle(obj).cast<const Tensor&>();
    auto* exported = new ExportedView{view->internal, t.storage()};
    exported->storage->add_export();
    view->internal = exported;
  } catch (...) {  // not a Tensor after all (cannot happen for this type): never leave a view half-made
    pybind_releasebuffer(obj, view);
    Py_CLEAR(view->obj);
    PyErr_SetString(PyExc_BufferError, "corenn.Tensor: cannot export this object's buffer");
    return -1;
  }
  return 0;
}

void counted_releasebuffer(PyObject* obj, Py_buffer* view) {
  if (!view->readonly && view->internal) {
    auto* exported = static_cast<ExportedView*>(view->internal);
    view->internal = exported->pybind_internal;
    exported->storage->release_export();
    delete exported;
  }
  pybind_releasebuffer(obj, view);
}

// Installs the wrappers on corenn.Tensor; Python subclasses made later inherit the slots.
void count_buffer_exports(const py::handle& type) {
  auto* tp = reinterpret_cast<PyTypeObject*>(type.ptr());
  PyBufferProcs* procs = tp->tp_as_buffer;
  if (!procs || !procs->bf_getbuffer || procs->bf_getbuffer == counted_getbuffer) return;
  pybind_getbuffer = procs->bf_getbuffer;
  pybind_releasebuffer = procs->bf_releasebuffer;
  procs->bf_getbuffer = counted_getbuffer;
  procs->bf_releasebuffer = counted_releasebuffer;
}

}  // namespace

void register_tensor(py::module_& m) {
  // dynamic_attr: Keras code reads ``tensor._keras_mask`` on what a masking layer returned
  // (python/corenn/layers/base.py sets it on eager outputs); the dict is made only when used
  py::class_<Tensor>(m, "Tensor", py::buffer_protocol(), py::dynamic_attr(), R"doc(
A contiguous row-major array (float32, int32 or int64) on a device.

On the CPU a Tensor and a NumPy array can share memory: ``Tensor.from_numpy(a)`` borrows the
array's buffer (no copy) and ``t.numpy()`` / ``np.asarray(t)`` return a view of the tensor.
)doc")
      .def_buffer([](Tensor& t) -> py::buffer_info {
        require_cpu(t, "buffer protocol");
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
        std::vector<py::ssize_t> strides(shape.size());
        py::ssize_t stride = static_cast<py::ssize_t>(dtype_size(t.dtype()));
        for (int64_t i = t.dim() - 1; i >= 0; --i) {
          strides[i] = stride;
          stride *= shape[i];
        }
        // A read-only tensor exports a read-only buffer (numpy(), np.asarray(t): writeable=False).
        return py::buffer_info(t.raw_data(), static_cast<py::ssize_t>(dtype_size(t.dtype())),
                               numpy_format(t.dtype()), t.dim(), shape, strides, t.read_only());
      })
      .def_static("from_numpy", &from_numpy, py::arg("array"),
                  "Wrap a C-contiguous float32/int32/int64 array without copying.")
      .def_static(
          "empty",
          [](const py::object& shape, const std::string& dtype, const std::string& device) {
            return Tensor::empty(shape_arg("Tensor.empty", shape), parse_dtype("Tensor.empty", dtype),
                                 parse_device("Tensor.empty", py::str(device)), "Tensor.empty");
          },
          py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = "cpu")
      .def_static(
          "zeros",
          [](const py::object& shape, const std::string& dtype, const std::string& device) {
            return Tensor::zeros(shape_arg("Tensor.zeros", shape), parse_dtype("Tensor.zeros", dtype),
                                 parse_device("Tensor.zeros", py::str(device)), "Tensor.zeros");
          },
          py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = "cpu")
      .def_static("from_dlpack", &from_dlpack, py::arg("obj"),
                  "Import a tensor from any DLPack producer (or a 'dltensor' capsule) without copying.")
      .def_property_readonly("shape", &shape_tuple)
      .def_property_readonly("dtype", &dtype_object)
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", &Tensor::dim)
      .def_property_readonly("size", &Tensor::numel)
      .def_property_readonly("nbytes", &Tensor::nbytes)
      .def_property_readonly("read_only", &Tensor::read_only,
                             "True when borrowed from read-only memory (a NumPy array with "
                             "writeable=False): ops refuse to write it, numpy() is read-only.")
      .def_property_readonly("_storage_refs",
                             [](const Tensor& t) { return t.storage() ? t.storage().use_count() : 0L; },
                             "How many Tensors and exports share this storage (1: this Tensor alone). "
                             "The tape reuses a gradient buffer only when nobody else holds it.")
      .def_property_readonly("data_ptr",
                             [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); })
      .def("__len__",
           [](const Tensor& t) {
             CORENN_CHECK_TYPE(t.dim() > 0, "len() of a 0-d tensor");
             return t.shape()[0];
           })
      .def("reshape", [](const Tensor& t, const py::object& shape) { return t.reshape(shape_arg("reshape", shape)); },
           py::arg("shape"), "A view with a new shape over the same storage (one entry may be -1).")
      .def("numpy", &to_numpy,
           "A NumPy view of this tensor when it is on the CPU (no copy); a CUDA tensor is copied "
           "back to the host.")
      .def("_copy_array",
           [](const Tensor& t) {
             // A copy made without exporting a writable view: reading the values this way
             // (get_weights, a variable's numpy()) does not move the write version, so it
             // leaves the packed-weight cache of an unchanged weight in place.
             const Tensor host = t.device().is_cpu() ? t : t.to(Device{});
             std::vector<py::ssize_t> shape(host.shape().begin(), host.shape().end());
             py::array out(py::dtype(numpy_format(host.dtype())), shape);
             if (host.nbytes() > 0) std::memcpy(out.mutable_data(), host.raw_data(), host.nbytes());
             return out;
           },
           "A new NumPy array holding a copy of the values (no view is exported).")
      .def("clone",
           [](const Tensor& t) {
             Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device(), "Tensor.clone");
             copy_bytes(out.raw_data(), out.device(), t.raw_data(), t.device(), t.nbytes());
             return out;
           },
           "A new tensor on the same device holding a copy of the values (one call: the graph "
           "executor hands out copies of its reused output buffers this way).")
      .def("__array__",
           [](py::object self, py::object dtype, py::object copy) {
             // NumPy tries the buffer protocol first (CPU tensors never get here); for a CUDA
             // tensor this copies back instead of NumPy silently making an object array.
             py::array a = to_numpy(self);
             if (!dtype.is_none()) return py::array(a.attr("astype")(dtype));
             return a;
           },
           py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("fill_",
           [](Tensor& t, const py::object& value) -> Tensor& {
             check_writable("fill_", "self", t);
             // Validated (and converted exactly) for the dtype before any device sees it.
             const std::vector<unsigned char> elem = fill_value_bytes(value, t.dtype());
#ifdef CORENN_WITH_CUDA
             if (!t.device().is_cpu()) {
               if (is_compute_dtype(t.dtype())) {
                 // cuda::fill takes a double: exact for float32 and int32, and for int64 up to 2**53.
                 double d = 0;
                 if (t.dtype() == DType::float32) { float f; std::memcpy(&f, elem.data(), 4); d = f; }
                 else if (t.dtype() == DType::int32) { int32_t i; std::memcpy(&i, elem.data(), 4); d = i; }
                 else {
                   int64_t i; std::memcpy(&i, elem.data(), 8);
                   CORENN_CHECK(i >= -(int64_t{1} << 53) && i <= (int64_t{1} << 53),
                                "fill_: ", i, " is beyond 2**53, which the CUDA fill cannot write exactly");
                   d = static_cast<double>(i);
                 }
                 cuda::fill(t, d);
               } else {   // a storage-only dtype: filled on the host, copied over
                 Tensor host = Tensor::empty(t.shape(), t.dtype(), Device{}, "fill_");
                 fill_bytes(host, elem);
                 copy_bytes(t.raw_data(), t.device(), host.raw_data(), host.device(), t.nbytes());
               }
               return t;
             }
#endif
             require_cpu(t, "fill_");
             fill_bytes(t, elem);
             return t;
           },
           py::arg("value"), py::return_value_policy::reference_internal)
      .def("copy_",
           [](Tensor& t, const Tensor& src) -> Tensor& {
             check_writable("copy_", "self", t);
             check_same_shape("copy_", "self", t, "src", src);
             CORENN_CHECK_TYPE(t.dtype() == src.dtype(), "copy_: dtype mismatch, self is ",
                               dtype_name(t.dtype()), " and src is ", dtype_name(src.dtype()));
             copy_bytes(t.raw_data(), t.device(), src.raw_data(), src.device(), t.nbytes());
             return t;
           },
           py::arg("src"), py::return_value_policy::reference_internal)
      .def("to",
           [](const Tensor& t, const py::object& device) {
             const Device target = parse_device("Tensor.to", device);
             if (target == t.device()) return t;
#ifndef CORENN_WITH_CUDA
             throw NotImplementedError("Tensor.to('" + target.str() +
                                       "'): corenn was built without the CUDA backend; rebuild "
                                       "with CORENN_CUDA=ON on a machine with the CUDA toolkit");
#endif
             return t.to(target);
           },
           py::arg("device"),
           "This tensor on `device` ('cpu', 'cuda', 'cuda:N'): itself if already there, else a copy.")
      .def("cpu", [](const Tensor& t) { return t.to(Device{}); },
           "This tensor on the CPU: itself if already there, else a copy.")
      .def("cuda",
           [](const Tensor& t, int index) {
             const Device target{DeviceType::cuda, index};
#ifndef CORENN_WITH_CUDA
             throw NotImplementedError("Tensor.cuda(): cannot use " + target.str() +
                                       ": corenn was built without the CUDA backend");
#endif
             return t.to(target);
           },
           py::arg("index") = 0)
      .def_property_readonly("is_cuda", [](const Tensor& t) { return !t.device().is_cpu(); })
      .def("__dlpack__",
           [](const Tensor& t, py::kwargs) { return to_dlpack(t); })
      .def("__dlpack_device__",
           [](const Tensor& t) {
             return py::make_tuple(t.device().is_cpu() ? int(kDLCPU) : int(kDLCUDA), t.device().index);
           })
      .def("__repr__", [](const Tensor& t) {
        return "Tensor(shape=" + t.shape_str() + ", dtype=" + dtype_name(t.dtype()) +
               ", device=" + t.device().str() + ")";
      })
      .def_property_readonly("_version",
                             [](const Tensor& t) { return t.storage() ? t.storage()->version() : 0; },
                             "The storage's write version (Storage::version): bumped by every op "
                             "that writes it and by the end of every writable NumPy / DLPack export.")
      .def_property_readonly("_versions_trusted",
                             [](const Tensor& t) { return t.storage() && t.storage()->versions_trusted(); },
                             "False while a writable export lives or when the memory is borrowed: "
                             "caches of the contents are then bypassed.");
  count_buffer_exports(m.attr("Tensor"));

  m.def("get_num_threads", &get_num_threads);
  m.def(
      "_set_dtype_class",
      [](py::object cls) {
        for (int i = 0; i < kNumDTypes; ++i) {
          const DType d = static_cast<DType>(i);
          py::object name = cls(py::str(dtype_name(d)));
          CORENN_CHECK(PyUnicode_Check(name.ptr()), "_set_dtype_class: expected a subclass of str");
          g_dtype_names[static_cast<int>(d)] = name.release().ptr();   // held for the process
        }
      },
      py::arg("cls"), "Make Tensor.dtype return cls(name) (a str subclass), one instance per dtype.");
  m.def(
      "_set_shape_class",
      [](py::object cls) {
        CORENN_CHECK(PyType_Check(cls.ptr()) && PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls.ptr()), &PyTuple_Type),
                     "_set_shape_class: expected a subclass of tuple");
        Py_INCREF(cls.ptr());
        g_shape_class = cls.ptr();
      },
      py::arg("cls"), "Make Tensor.shape return instances of cls (a tuple subclass) from now on.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("default_num_threads", &default_num_threads);
  // Test hook for the thread pool (tests/core/test_threads.py): runs parallel_for over [0, n) and
  // returns the chunks it ran, sorted, with how often each index was visited; the chunk holding
  // index `fail_at` throws corenn::Error (-> ValueError); `nested` runs a parallel_for inside each
  // chunk and records whether it ran inline.
  m.def(
      "_parallel_for_probe",
      [](int64_t n, int64_t grain, int64_t fail_at, bool nested) {
        CORENN_CHECK(n >= 0 && n <= (int64_t{1} << 24), "_parallel_for_probe: n = ", n);
        std::vector<int> visits(static_cast<size_t>(n), 0);
        std::vector<std::pair<int64_t, int64_t>> chunks;
        std::mutex mu;
        bool nested_inline = true;
        {
          py::gil_scoped_release release;
          parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) ++visits[static_cast<size_t>(i)];
            int inner_chunks = 0;
            if (nested) parallel_for(0, 1 << 20, 1, [&](int64_t, int64_t) { ++inner_chunks; });
            std::lock_guard<std::mutex> lk(mu);
            chunks.emplace_back(lo, hi);
            if (nested && inner_chunks != 1) nested_inline = false;
            CORENN_CHECK(!(lo <= fail_at && fail_at < hi), "_parallel_for_probe: chunk [", lo, ", ",
                         hi, ") fails on purpose");
          });
        }
        std::sort(chunks.begin(), chunks.end());
        return py::make_tuple(chunks, visits, nested_inline);
      },
      py::arg("n"), py::arg("grain"), py::arg("fail_at") = -1, py::arg("nested") = false);
  m.def("get_isa", [] { return isa_name(active_isa()); });
  m.def("set_isa", &set_isa, py::arg("name"));
  m.def("cpu_has_avx2_fma", &cpu_has_avx2_fma);
  m.def("cpu_has_avx512", &cpu_has_avx512);
  // What corenn.show_config() prints: the CPU, what cpuid found, the ISA and why, the GEMM blocks.
  m.def("cpu_config", [] {
    py::dict d;
    d["cpu"] = cpu_model_name();
    d["features"] = cpu_feature_names();
    d["isa"] = isa_name(active_isa());
    d["isa_reason"] = isa_reason();
    d["threads"] = get_num_threads();
    py::dict blocks;
    for (const auto& [name, k] : cpu::gemm::kernel_configs()) {
      py::dict b;
      b["mr"] = k.mr;
      b["nr"] = k.nr;
      b["mc"] = k.bs.mc;
      b["kc"] = k.bs.kc;
      b["nc"] = k.bs.nc;
      // the tile sgemm / conv run for N <= 16 (GemmContext::narrow), or None
      if (k.ctx && k.ctx->narrow)
        b["narrow"] = py::make_tuple(k.ctx->narrow->mr, k.ctx->narrow->nr);
      else
        b["narrow"] = py::none();
      blocks[py::str(name)] = b;
    }
    d["gemm"] = blocks;
    return d;
  });
  // The per-op dispatch table (core/dispatch.h): {op: {slot: registered, ..., "chosen": slot the
  // CPU runs under the active ISA, "reason": why}}.
  m.def("dispatch_table", [] {
    py::dict table;
    const Isa isa = active_isa();
    for (const DispatchStubBase* stub : dispatch_stubs()) {
      py::dict row;
      for (int s = 0; s < kSlotCount; ++s)
        row[slot_name(static_cast<Slot>(s))] = stub->registered(static_cast<Slot>(s));
      const int chosen = stub->cpu_slot(isa);
      row["chosen"] = chosen < 0 ? py::object(py::none())
                                 : py::object(py::str(slot_name(static_cast<Slot>(chosen))));
      row["reason"] = stub->cpu_reason(isa);
      table[py::str(stub->op())] = row;
    }
    return table;
  });
#ifdef CORENN_X86_64
  m.attr("isas_built") = py::make_tuple("ref", "avx2", "avx512");
#else
  m.attr("isas_built") = py::make_tuple("ref");
#endif
  // CORENN_ISA asked for an ISA this build or CPU lacks: say so once, at import (core/cpu_features.h).
  if (!isa_env_note().empty() &&
      PyErr_WarnEx(PyExc_RuntimeWarning, isa_env_note().c_str(), 1) != 0)
    throw py::error_already_set();
#ifdef CORENN_WITH_CUDA
  m.attr("cuda_built") = true;
  m.def("cuda_is_available", &cuda::is_available);
  m.def("cuda_device_count", &cuda::device_count);
  m.def("cuda_synchronize", [](int index) {
    cuda::require_device(Device{DeviceType::cuda, index});
    cuda::synchronize(index);
  }, py::arg("index") = 0);
  m.def("cuda_empty_cache", &cuda::empty_cache);
  m.def("cuda_memory_stats", [](int index) {
    cuda::require_device(Device{DeviceType::cuda, index});
    const cuda::MemoryStats s = cuda::memory_stats(index);
    py::dict d;
    d["allocated_bytes"] = s.allocated;
    d["cached_bytes"] = s.cached;
    d["device_mallocs"] = s.device_mallocs;
    return d;
  }, py::arg("index") = 0);
#else
  m.attr("cuda_built") = false;
  m.def("cuda_is_available", [] { return false; });
  m.def("cuda_device_count", [] { return 0; });
#endif
  m.def("parse_device", [](const std::string& name) { return Device::parse(name).str(); },
        py::arg("name"), "The canonical name of a device: 'cpu' or 'cuda:N'.");
}

}  // namespace corenn::bindings
