/*
 * FastRmp native stubs: the exported witness API. The C# tests load libfastrmp_stubs and compare every row
 * here with the managed layout of the mirrors in src/Interop.
 */
#ifndef FASTRMP_STUBS_H
#define FASTRMP_STUBS_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define FR_API __declspec(dllexport)
#else
#define FR_API __attribute__((visibility("default")))
#endif

/* How a field is filled and checked by the round-trip functions. */
enum fr_field_kind {
    FR_KIND_INT = 0,   /* integer or integer typedef: low `size` bytes of the pattern, little-endian */
    FR_KIND_BOOL = 1,  /* C bool: bit 0 of the pattern */
    FR_KIND_PTR = 2,   /* pointer: the whole 64-bit pattern */
    FR_KIND_BYTES = 3, /* array or nested struct: fr_pattern_byte(index, j) for byte j */
    FR_KIND_UNION = 4, /* storage shared with bitfields: layout only, its content is checked through them */
};

struct fr_struct_row {
    const char *name;   /* C struct name as defined in fastrmp_types.h (generation suffix included) */
    uint32_t size;
    uint32_t align;
};

struct fr_field_row {
    const char *struct_name;
    const char *field;  /* C member designator: "max_level", "gmem.file", "arch" */
    uint32_t offset;
    uint32_t size;
    const char *ctype;
    uint32_t kind;      /* enum fr_field_kind */
    uint32_t index;     /* position of the field in its struct (pattern seed) */
};

struct fr_bitfield_row {
    const char *struct_name;
    const char *field;
    uint32_t bit_offset; /* from the start of the struct, little-endian bit numbering */
    uint32_t bit_width;
    uint32_t index;      /* pattern seed, continuing after the plain fields */
};

struct fr_constant_row {
    const char *name;
    uint64_t value;
};

FR_API const struct fr_struct_row *fr_struct_rows(size_t *count);
FR_API const struct fr_field_row *fr_field_rows(size_t *count);
FR_API const struct fr_bitfield_row *fr_bitfield_rows(size_t *count);
FR_API const struct fr_constant_row *fr_constant_rows(size_t *count);

/* The pattern for field `index`: a 64-bit value whose bytes differ between fields. */
FR_API uint64_t fr_pattern(uint32_t index);
FR_API uint8_t fr_pattern_byte(uint32_t index, uint32_t j);

/*
 * Round trip. fr_fill writes every field (and bitfield) of the named struct through C member access, using the
 * pattern of its index; fr_check reads them back through C member access and returns 0 when every field holds its
 * pattern, else 1 + the index of the first field that does not. Both return -1 for an unknown name or a buffer
 * smaller than the struct.
 */
FR_API int fr_fill(const char *struct_name, void *buffer, size_t length);
FR_API int fr_check(const char *struct_name, const void *buffer, size_t length);

#endif
