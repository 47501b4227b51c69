#pragma once

// One lexer for the SQL text the PostgreSQL backend rewrites or splits: what is code and what
// is a string, a quoted identifier, a comment or a dollar-quoted body (where a `?` or a `;` is
// only text). Placeholder translation and statement splitting both use it, so that they never
// disagree on where text ends.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tocsin::store::detail {

// When `sql[i]` opens a string ('...', E'...' with backslash escapes), a quoted identifier
// ("..."), a comment (-- to the end of the line, /* */ nested as PostgreSQL nests them) or a
// dollar-quoted body ($$...$$, $tag$...$tag$): the index just past its end (the text's end when
// it is not closed). Otherwise `i`: the byte is code.
std::size_t SkipNonCode(std::string_view sql, std::size_t i);

// `?` and `?N` become `$N` in code only: a bare `?` takes the number after the largest one so
// far, as in SQLite.
std::string TranslatePlaceholders(std::string_view sql);

// A script's statements, each with its `;` (a `;` in code ends one), leading blanks trimmed.
std::vector<std::string_view> SplitStatements(std::string_view script);

}  // namespace tocsin::store::detail
