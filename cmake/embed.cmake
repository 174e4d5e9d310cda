# Writes a C source that holds a file gzip-compressed, so data ships small inside a program.
# Usage: cmake -DINPUT=file -DOUTPUT=file.c -DSYMBOL=name -P embed.cmake
# Defines `const unsigned char SYMBOL[]` (one gzip member of the input, as
# libarchive's raw format writes it, with its timestamp zeroed so that the
# output depends on the input only), `const size_t SYMBOL_zlen` (its byte
# count) and `const size_t SYMBOL_len` (the byte count of what was compressed). Written under
# a temporary name first. gzip rather than zstd: its decoder needs a 32 KiB
# window, where a zstd frame of unknown size makes it reserve megabytes.
get_filename_component(dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
# A JSON input loses its line breaks and indentation: a JSON string holds no raw line break,
# so they are layout only.
set(data "${OUTPUT}.data")
file(READ "${INPUT}" text)
if(INPUT MATCHES "\\.json$")
  string(REGEX REPLACE "\n *" "" text "${text}")
endif()
file(WRITE "${data}" "${text}")
set(gz "${OUTPUT}.gz")
file(REMOVE "${gz}")
file(ARCHIVE_CREATE OUTPUT "${gz}" PATHS "${data}" FORMAT raw COMPRESSION GZip
  COMPRESSION_LEVEL 9)
file(READ "${gz}" hex HEX)
file(SIZE "${data}" bytes)
file(REMOVE "${gz}" "${data}")
# Bytes 4-7 of a gzip header are its MTIME; 0 means none.
string(SUBSTRING "${hex}" 0 8 head)
string(SUBSTRING "${hex}" 16 -1 tail)
set(hex "${head}00000000${tail}")
string(LENGTH "${hex}" digits)
math(EXPR zbytes "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 sixteen)
string(REGEX REPLACE "(${sixteen})" "\\1\n\t" body "${body}")
file(WRITE "${OUTPUT}.tmp"
  "/* Generated from ${INPUT} by cmake/embed.cmake; do not edit. */\n"
  "#include <stddef.h>\n\n"
  "extern const unsigned char ${SYMBOL}[];\n"
  "extern const size_t ${SYMBOL}_zlen;\n"
  "extern const size_t ${SYMBOL}_len;\n\n"
  "const unsigned char ${SYMBOL}[] = {\n\t${body}\n};\n"
  "const size_t ${SYMBOL}_zlen = ${zbytes};\n"
  "const size_t ${SYMBOL}_len = ${bytes};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
