/*
 * rnnlab/format.h - numbers as text, always in the C locale.
 *
 * Everything rnnlab writes (CSV, JSON, messages) and reads (experiment files, CSV) goes through
 * these, so a user whose locale writes "0,5" still gets "0.5", and the file reads back exactly.
 * They switch the calling thread to the C locale for the call only (POSIX uselocale), so they are
 * safe in multi-threaded programs.
 */
#ifndef RNNLAB_FORMAT_H
#define RNNLAB_FORMAT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes v with 17 significant digits (%.17g, enough to read back the same double), or "nan",
 * "inf", "-inf". Returns the length written (buf must hold at least 32 bytes). */
int rnnlab_format_double(char *buf, size_t size, double v);

/* The same with 9 significant digits, enough for a float32 value. */
int rnnlab_format_float(char *buf, size_t size, double v);

/* The same with the fewest significant digits (1 to 17) that read back the same double: a value
 * read from "0.063107" is written 0.063107, not 0.063106999999999996. For messages that quote a
 * value as its file wrote it. */
int rnnlab_format_shortest(char *buf, size_t size, double v);

/* Parses the whole string s as a decimal double in the C locale ("nan", "inf", "-inf" accepted; leading
 * and trailing white space - blanks, tabs, newlines - and hex floats such as 0x1A are not). Returns 1
 * on success, 0 if s is not a number. */
int rnnlab_parse_double(const char *s, double *out);

#ifdef __cplusplus
}
#endif
#endif
