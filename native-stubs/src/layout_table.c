/*
 * The layout witness: compile-time proof of every mirrored struct's layout, an exported table of it, and the C
 * half of the round trip. Everything is generated from the lists in layout_lists.h and constants.h.
 */
#include "fastrmp_stubs.h"
#include "fastrmp_types.h"

#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "constants.h"
#include "layout_lists.h"

#define FR_MEMBER(S, f) (((struct S *)0)->f)

/* ---- 1. compile-time proof: every offset and size ---- */
#define FR_ASSERT_FIELD(S, f, off, ct, k) \
    _Static_assert(offsetof(struct S, f) == (off), #S "." #f " is not at offset " #off);
#define FR_ASSERT_STRUCT(S, size, FIELDS, BITS) \
    _Static_assert(sizeof(struct S) == (size), "sizeof(struct " #S ") is not " #size); \
    FIELDS(FR_ASSERT_FIELD, S)
FR_STRUCTS(FR_ASSERT_STRUCT)

/* The sizes of the fields whose size is not implied by the next offset. */
_Static_assert(sizeof(FR_MEMBER(kvm_page_fault_v6_13, error_code)) == 8, "u64 error_code");
_Static_assert(sizeof(FR_MEMBER(kvm_page_fault_v6_8, error_code)) == 4, "u32 error_code");
_Static_assert(sizeof(FR_MEMBER(kvm_memory_slot, gmem.pgoff)) == 8, "pgoff_t");
/* tdmr_info's flexible array of reserved areas starts right after the eight u64s (sizeof is 512 by alignment). */
_Static_assert(offsetof(struct tdmr_info, reserved_areas) == 64, "tdmr_info.reserved_areas");
_Static_assert(sizeof(bool) == 1, "C bool is one byte on x86-64");
_Static_assert(VMGEXIT_PSC_MAX_ENTRY == 64, "PSC entries");

/* ---- 2. the exported tables ---- */
#define FR_STRUCT_ROW(S, size, FIELDS, BITS) {#S, (uint32_t)sizeof(struct S), (uint32_t)alignof(struct S)},
static const struct fr_struct_row s_structs[] = {FR_STRUCTS(FR_STRUCT_ROW)};

#define FR_FIELD_ROW(S, f, off, ct, k) \
    {#S, #f, (uint32_t)offsetof(struct S, f), (uint32_t)sizeof(FR_MEMBER(S, f)), ct, FR_KIND_##k, 0},
#define FR_FIELD_ROWS(S, size, FIELDS, BITS) FIELDS(FR_FIELD_ROW, S)
static struct fr_field_row s_fields[] = {FR_STRUCTS(FR_FIELD_ROWS)};

#define FR_BIT_ROW(S, f, bit, width) {#S, #f, 0, 0, 0},
#define FR_BIT_ROWS(S, size, FIELDS, BITS) BITS(FR_BIT_ROW, S)
static struct fr_bitfield_row s_bits[] = {FR_STRUCTS(FR_BIT_ROWS) {NULL, NULL, 0, 0, 0}};
#define FR_BIT_COUNT (sizeof(s_bits) / sizeof(s_bits[0]) - 1)

#define FR_CONSTANT_ROW(name, value) {#name, (uint64_t)(value)},
static const struct fr_constant_row s_constants[] = {FR_CONSTANTS(FR_CONSTANT_ROW)};

/* Bit position and width of a bitfield, found by setting it to all ones in a zeroed struct. */
static void fr_probe_bits(const unsigned char *bytes, size_t n, uint32_t *bit, uint32_t *width)
{
    uint32_t first = UINT32_MAX, count = 0;
    for (size_t i = 0; i < n * 8; i++) {
        if (bytes[i / 8] & (1u << (i % 8))) {
            if (first == UINT32_MAX)
                first = (uint32_t)i;
            count++;
        }
    }
    *bit = first;
    *width = count;
}

#define FR_PROBE_BIT(S, f, bit, w)                                                                   \
    {                                                                                                \
        struct S probe;                                                                              \
        memset(&probe, 0, sizeof probe);                                                             \
        probe.f = s_all_ones; /* not a constant: the truncation is the point */                     \
        fr_probe_bits((const unsigned char *)&probe, sizeof probe, &s_bits[b].bit_offset,            \
                      &s_bits[b].bit_width);                                                         \
        s_bits[b].index = next_index++;                                                              \
        b++;                                                                                         \
    }
#define FR_COUNT_FIELD(S, f, off, ct, k) s_fields[fi].index = next_index++, fi++;
#define FR_INIT_STRUCT(S, size, FIELDS, BITS)                                                        \
    next_index = 0;                                                                                  \
    FIELDS(FR_COUNT_FIELD, S)                                                                        \
    BITS(FR_PROBE_BIT, S)

static int s_initialized;
static volatile uint64_t s_all_ones = ~0ull;

static void fr_init(void)
{
    if (s_initialized)
        return;
    size_t fi = 0, b = 0;
    uint32_t next_index = 0;
    FR_STRUCTS(FR_INIT_STRUCT)
    (void)next_index;
    s_initialized = 1;
}

const struct fr_struct_row *fr_struct_rows(size_t *count)
{
    *count = sizeof(s_structs) / sizeof(s_structs[0]);
    return s_structs;
}

const struct fr_field_row *fr_field_rows(size_t *count)
{
    fr_init();
    *count = sizeof(s_fields) / sizeof(s_fields[0]);
    return s_fields;
}

const struct fr_bitfield_row *fr_bitfield_rows(size_t *count)
{
    fr_init();
    *count = FR_BIT_COUNT;
    return s_bits;
}

const struct fr_constant_row *fr_constant_rows(size_t *count)
{
    *count = sizeof(s_constants) / sizeof(s_constants[0]);
    return s_constants;
}

/* ---- 3. round trip ---- */
uint64_t fr_pattern(uint32_t index)
{
    /* Odd multiples of a 64-bit golden-ratio constant: every byte differs between neighbouring fields and bit 0
     * alternates, so bool fields see both values. */
    return 0x9E3779B97F4A7C15ull * ((uint64_t)index + 1);
}

uint8_t fr_pattern_byte(uint32_t index, uint32_t j)
{
    return (uint8_t)(fr_pattern(index) >> ((j % 8) * 8)) ^ (uint8_t)(j / 8 * 0x3B);
}

static void fr_fill_bytes(void *p, size_t n, uint32_t index)
{
    unsigned char *b = p;
    for (size_t j = 0; j < n; j++)
        b[j] = fr_pattern_byte(index, (uint32_t)j);
}

static int fr_bytes_equal(const void *p, size_t n, uint32_t index)
{
    const unsigned char *b = p;
    for (size_t j = 0; j < n; j++)
        if (b[j] != fr_pattern_byte(index, (uint32_t)j))
            return 0;
    return 1;
}

/* Writes through a pointer to the non-const struct; mirrored kernel structs have const members. */
#define FR_SET(lv, v) do { __typeof__(lv) fr_tmp_ = (__typeof__(lv))(v); memcpy((void *)&(lv), &fr_tmp_, sizeof fr_tmp_); } while (0)
#define FR_FILL_KIND_INT(lv, i) FR_SET(lv, fr_pattern(i))
#define FR_FILL_KIND_BOOL(lv, i) FR_SET(lv, (fr_pattern(i) & 1) != 0)
#define FR_FILL_KIND_PTR(lv, i) FR_SET(lv, (uintptr_t)fr_pattern(i))
#define FR_FILL_KIND_BYTES(lv, i) fr_fill_bytes((void *)&(lv), sizeof(lv), i)
#define FR_FILL_KIND_UNION(lv, i) (void)0

#define FR_CHECK_KIND_INT(lv, i) ((lv) == (__typeof__(lv))fr_pattern(i))
#define FR_CHECK_KIND_BOOL(lv, i) ((lv) == ((fr_pattern(i) & 1) != 0))
#define FR_CHECK_KIND_PTR(lv, i) ((uintptr_t)(lv) == (uintptr_t)fr_pattern(i))
#define FR_CHECK_KIND_BYTES(lv, i) fr_bytes_equal(&(lv), sizeof(lv), i)
#define FR_CHECK_KIND_UNION(lv, i) 1

#define FR_BIT_MASK(w) ((w) >= 64 ? ~0ull : ((1ull << (w)) - 1))

#define FR_FILL_FIELD(S, f, off, ct, k) FR_FILL_KIND_##k(p->f, i); i++;
#define FR_FILL_BIT(S, f, bit, w) p->f = fr_pattern(i) & FR_BIT_MASK(w); i++;
#define FR_CHECK_FIELD(S, f, off, ct, k) if (!FR_CHECK_KIND_##k(p->f, i)) return (int)i + 1; i++;
#define FR_CHECK_BIT(S, f, bit, w) if ((uint64_t)p->f != (fr_pattern(i) & FR_BIT_MASK(w))) return (int)i + 1; i++;

#define FR_FILL_CASE(S, size, FIELDS, BITS)                                                          \
    if (strcmp(name, #S) == 0) {                                                                     \
        if (length < sizeof(struct S))                                                               \
            return -1;                                                                               \
        struct S *p = buffer;                                                                        \
        uint32_t i = 0;                                                                              \
        memset(p, 0, sizeof *p);                                                                     \
        FIELDS(FR_FILL_FIELD, S)                                                                     \
        BITS(FR_FILL_BIT, S)                                                                         \
        (void)i;                                                                                     \
        return 0;                                                                                    \
    }

#define FR_CHECK_CASE(S, size, FIELDS, BITS)                                                         \
    if (strcmp(name, #S) == 0) {                                                                     \
        if (length < sizeof(struct S))                                                               \
            return -1;                                                                               \
        const struct S *p = buffer;                                                                  \
        uint32_t i = 0;                                                                              \
        FIELDS(FR_CHECK_FIELD, S)                                                                    \
        BITS(FR_CHECK_BIT, S)                                                                        \
        (void)i;                                                                                     \
        (void)p;                                                                                     \
        return 0;                                                                                    \
    }

int fr_fill(const char *name, void *buffer, size_t length)
{
    if (name == NULL || buffer == NULL)
        return -1;
    FR_STRUCTS(FR_FILL_CASE)
    return -1;
}

int fr_check(const char *name, const void *buffer, size_t length)
{
    if (name == NULL || buffer == NULL)
        return -1;
    FR_STRUCTS(FR_CHECK_CASE)
    return -1;
}
