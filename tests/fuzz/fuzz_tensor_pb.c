/* libFuzzer target: the runtime's TensorProto (.pb) reader, the one a compiled program
 * runs on its inputs. Included, not linked, to reach the buffer reader without a file
 * per input. A tensor read must own exactly nbytes = product(dims) * element size. */
#include "runtime/tensor_io.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    onnxc_tensor_t t;
    char err[512];
    memset(&t, 0, sizeof t);
    if (read_pb("fuzz.pb", data, size, &t, err, sizeof err) == 0) {
        size_t n, bytes;
        if (onnxc_tensor_bytes(t.dtype, t.rank, t.dims, &n, &bytes) || bytes != t.nbytes || !t.data)
            abort();
        if (bytes) ((volatile uint8_t *)t.data)[bytes - 1];   /* ASan: the buffer is that big */
        onnxc_tensor_free(&t);
    }
    return 0;
}
