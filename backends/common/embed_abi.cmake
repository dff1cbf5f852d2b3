# Turns runtime/onnxc_abi.h into a C string constant so every generated header carries
# the ABI verbatim. Run with -DIN=<abi header> -DOUT=<c file>.
file(READ "${IN}" text)
string(REPLACE "\\" "\\\\" text "${text}")
string(REPLACE "\"" "\\\"" text "${text}")
string(REPLACE "\n" "\\n\"\n    \"" text "${text}")
file(WRITE "${OUT}.tmp" "/* Generated from ${IN} by embed_abi.cmake. Do not edit. */\nconst char out_abi_text[] =\n    \"${text}\";\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
