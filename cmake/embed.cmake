# Writes a C source that holds a file's bytes, so data ships inside a program.
# Usage: cmake -DINPUT=file -DOUTPUT=file.c -DSYMBOL=name -P embed.cmake
# Defines `const char SYMBOL[]` (NUL-terminated) and `const size_t SYMBOL_len`
# (the byte count without the NUL). Written under a temporary name first.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR bytes "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 sixteen)
string(REGEX REPLACE "(${sixteen})" "\\1\n\t" body "${body}")
file(WRITE "${OUTPUT}.tmp"
  "/* Generated from ${INPUT} by cmake/embed.cmake; do not edit. */\n"
  "#include <stddef.h>\n\n"
  "extern const char ${SYMBOL}[];\n"
  "extern const size_t ${SYMBOL}_len;\n\n"
  "const char ${SYMBOL}[] = {\n\t${body}0x00\n};\n"
  "const size_t ${SYMBOL}_len = ${bytes};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
