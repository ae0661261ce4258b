// SPDX-License-Identifier: GPL-2.0-only
/* The page (console/web/), embedded in the binary at build time so the console is one file and
 * the page always matches the API it calls. Each file is followed by a NUL. */
#include <string.h>
#include "console.h"

#define EMBED(sym, file)                                                                           \
	__asm__(".pushsection .rodata\n"                                                           \
		".balign 16\n" #sym ":\n"                                                          \
		".incbin \"" file "\"\n" #sym "_end:\n"                                            \
		".byte 0\n"                                                                        \
		".popsection\n");                                                                  \
	extern const char sym[], sym##_end[]

EMBED(rfc_web_index, "console/web/index.html");
EMBED(rfc_web_js, "console/web/app.js");
EMBED(rfc_web_css, "console/web/style.css");

struct web_file {
	const char *path;
	const char *data, *end;
	const char *type;
};

const char *rfc_web_file(const char *path, size_t *len, const char **type)
{
	const struct web_file files[] = {
	    {"/", rfc_web_index, rfc_web_index_end, "text/html; charset=utf-8"},
	    {"/index.html", rfc_web_index, rfc_web_index_end, "text/html; charset=utf-8"},
	    {"/app.js", rfc_web_js, rfc_web_js_end, "text/javascript; charset=utf-8"},
	    {"/style.css", rfc_web_css, rfc_web_css_end, "text/css; charset=utf-8"},
	};
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (!strcmp(files[i].path, path)) {
			*len = (size_t)(files[i].end - files[i].data);
			*type = files[i].type;
			return files[i].data;
		}
	}
	return NULL;
}
