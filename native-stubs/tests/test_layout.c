/* CTest suite for the layout witness: the tables are complete and consistent, the round trip detects damage. */
#include "fastrmp_stubs.h"
#include "fastrmp_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "constants.h"
#include "layout_lists.h"

static int s_failures;

#define EXPECT(cond, ...)                                                                            \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                          \
            fprintf(stderr, __VA_ARGS__);                                                            \
            fputc('\n', stderr);                                                                     \
            s_failures++;                                                                            \
        }                                                                                            \
    } while (0)

#define COUNT_STRUCT(S, size, FIELDS, BITS) +1
static const size_t k_struct_count = 0 FR_STRUCTS(COUNT_STRUCT);

static void test_structs(void)
{
    size_t n;
    const struct fr_struct_row *rows = fr_struct_rows(&n);
    EXPECT(n == k_struct_count, "struct rows %zu, lists %zu", n, k_struct_count);
    for (size_t i = 0; i < n; i++) {
        EXPECT(rows[i].size > 0, "%s has size 0", rows[i].name);
        EXPECT(rows[i].align && !(rows[i].align & (rows[i].align - 1)), "%s align %u", rows[i].name, rows[i].align);
        for (size_t j = 0; j < i; j++)
            EXPECT(strcmp(rows[i].name, rows[j].name) != 0, "struct %s listed twice", rows[i].name);
    }
}

static const struct fr_struct_row *find_struct(const char *name)
{
    size_t n;
    const struct fr_struct_row *rows = fr_struct_rows(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

static void test_fields(void)
{
    size_t n;
    const struct fr_field_row *rows = fr_field_rows(&n);
    EXPECT(n > 100, "only %zu field rows", n);
    for (size_t i = 0; i < n; i++) {
        const struct fr_struct_row *s = find_struct(rows[i].struct_name);
        EXPECT(s != NULL, "field %s of unknown struct %s", rows[i].field, rows[i].struct_name);
        if (s == NULL)
            continue;
        EXPECT(rows[i].offset + rows[i].size <= s->size, "%s.%s ends past the struct", s->name, rows[i].field);
        EXPECT(rows[i].kind <= FR_KIND_UNION, "%s.%s kind %u", s->name, rows[i].field, rows[i].kind);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(rows[j].struct_name, rows[i].struct_name) != 0)
                continue;
            EXPECT(strcmp(rows[j].field, rows[i].field) != 0, "%s.%s listed twice", s->name, rows[i].field);
            int disjoint = rows[j].offset + rows[j].size <= rows[i].offset ||
                           rows[i].offset + rows[i].size <= rows[j].offset;
            EXPECT(disjoint, "%s.%s overlaps %s", s->name, rows[i].field, rows[j].field);
        }
    }
}

#define CHECK_BIT(S, f, bit, w)                                                                      \
    for (size_t i = 0; i < n; i++)                                                                   \
        if (strcmp(rows[i].struct_name, #S) == 0 && strcmp(rows[i].field, #f) == 0) {                \
            EXPECT(rows[i].bit_offset == (bit), #S "." #f " at bit %u, expected %u", rows[i].bit_offset, bit); \
            EXPECT(rows[i].bit_width == (w), #S "." #f " %u bits wide, expected %u", rows[i].bit_width, w); \
            found++;                                                                                 \
        }                                                                                            \
    expected++;
#define CHECK_BITS(S, size, FIELDS, BITS) BITS(CHECK_BIT, S)

static void test_bitfields(void)
{
    size_t n, found = 0, expected = 0;
    const struct fr_bitfield_row *rows = fr_bitfield_rows(&n);
    FR_STRUCTS(CHECK_BITS)
    EXPECT(found == expected && n == expected, "bitfield rows %zu, found %zu, expected %zu", n, found, expected);
}

static uint64_t constant(const char *name)
{
    size_t n;
    const struct fr_constant_row *rows = fr_constant_rows(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return rows[i].value;
    EXPECT(0, "no constant %s", name);
    return 0;
}

static void test_constants(void)
{
    /* The ioctl numbers as printed in kernel-domain.md section 3. */
    EXPECT(constant("KVM_SET_USER_MEMORY_REGION") == 0x4020AE46u, "KVM_SET_USER_MEMORY_REGION");
    EXPECT(constant("KVM_SET_USER_MEMORY_REGION2") == 0x40A0AE49u, "KVM_SET_USER_MEMORY_REGION2");
    EXPECT(constant("KVM_SET_MEMORY_ATTRIBUTES") == 0x4020AED2u, "KVM_SET_MEMORY_ATTRIBUTES");
    EXPECT(constant("KVM_CREATE_GUEST_MEMFD") == 0xC040AED4u, "KVM_CREATE_GUEST_MEMFD");
    EXPECT(constant("KVM_PRE_FAULT_MEMORY") == 0xC040AED5u, "KVM_PRE_FAULT_MEMORY");
    size_t n;
    const struct fr_constant_row *rows = fr_constant_rows(&n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            EXPECT(strcmp(rows[i].name, rows[j].name) != 0, "constant %s listed twice", rows[i].name);
}

static void test_roundtrip(void)
{
    size_t ns, nf;
    const struct fr_struct_row *structs = fr_struct_rows(&ns);
    const struct fr_field_row *fields = fr_field_rows(&nf);
    unsigned char buffer[4096];
    for (size_t s = 0; s < ns; s++) {
        EXPECT(fr_fill(structs[s].name, buffer, sizeof buffer) == 0, "fill %s", structs[s].name);
        EXPECT(fr_check(structs[s].name, buffer, sizeof buffer) == 0, "check %s", structs[s].name);
        /* Damage each field in turn: check must name exactly that field. */
        for (size_t f = 0; f < nf; f++) {
            if (strcmp(fields[f].struct_name, structs[s].name) != 0 || fields[f].kind == FR_KIND_UNION)
                continue;
            fr_fill(structs[s].name, buffer, sizeof buffer);
            buffer[fields[f].offset] ^= 1;
            int r = fr_check(structs[s].name, buffer, sizeof buffer);
            EXPECT(r == (int)fields[f].index + 1, "%s.%s damaged: check said %d", structs[s].name, fields[f].field, r);
        }
    }
}

static void test_bad_input(void)
{
    unsigned char buffer[16];
    EXPECT(fr_fill("no_such_struct", buffer, sizeof buffer) == -1, "unknown name");
    EXPECT(fr_fill("kvm_page_fault_v6_13", buffer, sizeof buffer) == -1, "short buffer");
    EXPECT(fr_check("kvm_page_fault_v6_13", buffer, sizeof buffer) == -1, "short buffer");
    EXPECT(fr_fill(NULL, buffer, sizeof buffer) == -1, "null name");
    EXPECT(fr_check("rmp_state", NULL, 16) == -1, "null buffer");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } tests[] = {
        {"structs", test_structs}, {"fields", test_fields}, {"bitfields", test_bitfields},
        {"constants", test_constants}, {"roundtrip", test_roundtrip}, {"bad_input", test_bad_input},
    };
    if (argc != 2) {
        fprintf(stderr, "usage: %s TEST\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (strcmp(argv[1], tests[i].name) == 0) {
            tests[i].run();
            return s_failures ? 1 : 0;
        }
    fprintf(stderr, "unknown test %s\n", argv[1]);
    return 2;
}
