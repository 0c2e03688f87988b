#!/usr/bin/env python3
"""Doxygen input filter: reads cosync's public headers as Doxygen comments.

cosync's headers use plain comments (`//` in C++, `/* */` in C) in one
convention, so that the headers read well as text and no comment needs a
second, Doxygen-only spelling:

  - the comment block a header starts with describes the header (\\file);
  - a comment directly above a declaration (no blank line between them)
    documents it;
  - a comment after a member on its line (`int size;  // usable bytes`)
    documents that member, and so do `//` lines aligned under it;
  - a comment followed by a blank line is a note for the reader (a section
    title, a remark), not documentation, and stays a plain comment.

This filter rewrites those comments into Doxygen's spelling (`///`, `/**`,
`///<`, `/**<`) on the fly, keeping every line where it was, so that
warnings name the header's real line numbers. Usage (Doxyfile):
FILTER_PATTERNS = "*.h=python3 tools/doxygen_filter.py" (and *.hpp).
"""
import os
import re
import sys

LINE_COMMENT = re.compile(r"^(\s*)//(?![/!])\s?(.*)$")
BLOCK_START = re.compile(r"^(\s*)/\*(?![*!])(.*)$")
TRAILING_LINE = re.compile(r"^(.*[;,])(\s+)//(?![/!])(.*)$")
TRAILING_BLOCK = re.compile(r"^(\s*\S.*?)(\s+)/\*(?![*!])(.*\*/\s*)$")
CODE_BEFORE_TRAILING = re.compile(r"^(.*[;,]\s+)//")


def is_blank(line):
    return line.strip() == ""


def leading_comment_end(lines):
    """Index just past the comment block the file starts with (0: none)."""
    if not lines:
        return 0
    if lines[0].lstrip().startswith("//"):
        end = 0
        while end < len(lines) and lines[end].lstrip().startswith("//"):
            end += 1
        return end
    if lines[0].lstrip().startswith("/*"):
        for index, line in enumerate(lines):
            if "*/" in line:
                return index + 1
    return 0


def as_file_comment(lines, end, name):
    """The leading block, as the header's \\file documentation."""
    first = lines[0]
    if first.lstrip().startswith("//"):
        text = LINE_COMMENT.match(first).group(2)
        out = ["/// \\file %s %s" % (name, text)]
        out += ["///" + line.lstrip()[2:] for line in lines[1:end]]
        return out
    out = [first.replace("/*", "/** \\file %s" % name, 1)]
    return out + lines[1:end]


def line_comment_block_end(lines, start):
    end = start
    while end < len(lines) and LINE_COMMENT.match(lines[end]) and not TRAILING_LINE.match(lines[end]):
        end += 1
    return end


def block_comment_end(lines, start):
    for index in range(start, len(lines)):
        if "*/" in lines[index]:
            return index + 1
    return len(lines)


def documents_next(lines, end):
    """A comment documents what follows it unless a blank line comes first."""
    return end < len(lines) and not is_blank(lines[end])


def trailing_column(line):
    """Column of a member's trailing `//` comment, or None."""
    match = CODE_BEFORE_TRAILING.match(line)
    return len(match.group(1)) if match else None


def convert(lines, name):
    out = []
    end = leading_comment_end(lines)
    if end:
        out += as_file_comment(lines, end, name)
    index = end
    member_column = None  # column of the trailing comment on the line above
    while index < len(lines):
        line = lines[index]
        comment = LINE_COMMENT.match(line)
        if comment and member_column is not None and len(comment.group(1)) == member_column:
            out.append(comment.group(1) + "///< " + comment.group(2))
            index += 1
            continue
        member_column = None
        if comment:
            stop = line_comment_block_end(lines, index)
            block = lines[index:stop]
            if documents_next(lines, stop):
                block = [re.sub(r"//", "///", text, count=1) for text in block]
            out += block
            index = stop
            continue
        if BLOCK_START.match(line):
            stop = block_comment_end(lines, index)
            block = lines[index:stop]
            if documents_next(lines, stop):
                block[0] = block[0].replace("/*", "/**", 1)
            out += block
            index = stop
            continue
        trailing = TRAILING_LINE.match(line)
        if trailing:
            member_column = trailing_column(line)
            out.append("%s%s///<%s" % trailing.groups())
        else:
            trailing = TRAILING_BLOCK.match(line)
            out.append("%s%s/**<%s" % trailing.groups() if trailing else line)
        index += 1
    return out


def main():
    path = sys.argv[1]
    with open(path, encoding="utf-8") as source:
        lines = source.read().split("\n")
    # The path below include/, as a program includes it (cosync/tevent.h).
    name = path.split("include/", 1)[-1]
    sys.stdout.write("\n".join(convert(lines, name)))


if __name__ == "__main__":
    main()
