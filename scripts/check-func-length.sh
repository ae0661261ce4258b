#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Fail when a function in the given C files is longer than MAX lines (default 80), body braces
# included. Functions are kernel style: the opening brace alone in column 0, the closing one too.
MAX=${MAX:-80}
awk -v max="$MAX" '
	FNR == 1 { name = ""; start = 0 }
	/^[A-Za-z_].*\(/ && !/;[ \t]*$/ { name = $0 }
	/^\{/ { start = FNR }
	/^\}/ && start {
		len = FNR - start + 1
		if (len > max) {
			printf "%s:%d: %d lines (max %d): %s\n", FILENAME, start, len, max, name
			bad = 1
		}
		start = 0
	}
	END { exit bad }
' "$@"
