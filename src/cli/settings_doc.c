/*
 * settings_doc.c - settings-doc: the settings documentation, generated from
 * the settings table (settings.c), so that the README's configuration
 * reference, the man page's SETTINGS section and `totalrecall help` cannot
 * say different things.
 *
 *   settings-doc --markdown   the README's reference (between its markers)
 *   settings-doc --man        the SETTINGS section of totalrecall(1)
 *   settings-doc --names      every setting a user can give, one a line
 *   settings-doc --undocumented  those without a group (exit 1 if any)
 *
 * `make update-docs` writes the first into README.md; the build writes the
 * second into totalrecall.1; tests/docs/test_settings_doc.sh fails when the
 * README or the man page says something else.  Texts use one markup:
 * `backquotes` around literals (bold in the man page).
 */
#include "config.h"
#include "conf/settings.h"
#include "cli/settings_doc_text.h"

#include <stdio.h>
#include <string.h>

enum format { MARKDOWN, MAN };

static const char *const group_title[TR_G_COUNT] = {
	[TR_G_NONE] = "Other (not documented yet: give these a group in src/conf/settings.c)",
	[TR_G_REPOSITORY] = "Repository and storage",
	[TR_G_HOST] = "This host and its server",
	[TR_G_ARCHIVING] = "WAL archiving",
	[TR_G_BACKUP] = "Backup",
	[TR_G_RESTORE] = "Restore",
	[TR_G_COMMANDS] = "Other commands",
	[TR_G_S3] = "s3 and minio drivers",
	[TR_G_AZURE] = "azure driver",
};

/* What holds for every setting: paragraphs, then the options that are not
 * settings (main.c's -c, --config-over-env, --help). */
static const char *const rules[] = {
	"Every setting has a long option, an environment variable and a configuration file key (the option's "
	"name, or the variable's: `name = value`). Precedence: the command line, then the environment, then the "
	"configuration file, then the default. In the file, `name =` with no value unsets a setting (back to "
	"its default).",
	"Any value may be `file:/path` (the file's contents, surrounding white space trimmed) or `env:NAME` "
	"(another variable's value), followed up to two levels (`env:A` where `A=file:/x` reads `/x`). A "
	"variable `NAME` may also be given as `NAME_FILE=/path`, the official postgres image's convention, "
	"which is `NAME=file:/path` (both set is an error). A `file:` reference and the configuration file "
	"must be regular files (a FIFO or a device is refused at once), and a configuration file holding a NUL "
	"byte is refused, naming the file and line.",
	"A missing required setting, an unreadable secret file or a malformed value stops the command before "
	"any I/O with one line naming the setting, never its value. Sizes take `K`, `M`, `G` suffixes (`KiB`, "
	"`MiB`, `GiB` too; powers of 1024). Secrets are never printed or logged.",
};

static const struct { const char *tag, *text; } options[] = {
	{ "-c FILE, --config FILE", "the configuration file (default `" TR_CONFIG_DEFAULT_FILE "`, which may be "
	  "absent; a file named here must exist)" },
	{ "--config-over-env", "the configuration file wins over the environment (the command line still "
	  "wins): the `restore_command` that `restore` writes uses it, so a restored server recovers from the "
	  "repository it was restored from, whatever its environment says" },
	{ "-h, --help", "usage; with a command, that command's help" },
};

/* One character of plain text, escaped for the format. */
static void put_char(FILE *out, char c, int line_start, enum format f)
{
	if (f == MARKDOWN) {
		if (c == '|' || c == '<' || c == '>' || c == '*')
			fputc('\\', out);
		fputc(c, out);
		return;
	}
	if (line_start && (c == '.' || c == '\''))
		fputs("\\&", out);
	if (c == '\\')
		fputs("\\e", out);
	else if (c == '-')
		fputs("\\-", out);
	else
		fputc(c, out);
}

/* Text with `literals`: kept as code in Markdown, bold in the man page. */
static void put_text(FILE *out, const char *s, int line_start, enum format f)
{
	int code = 0;
	for (const char *p = s; *p; p++, line_start = 0) {
		if (*p == '`') {
			code = !code;
			fputs(f == MARKDOWN ? "`" : code ? "\\fB" : "\\fR", out);
		} else if (code && f == MARKDOWN) {
			if (*p == '|')
				fputc('\\', out);  /* a table cell ends at |, code or not */
			fputc(*p, out);
		} else {
			put_char(out, *p, line_start, f);
		}
	}
}

/* 600000 -> "600,000"; below 10,000 as it is. */
static void number_words(char *buf, size_t len, int64_t n)
{
	char digits[32];
	int nd = snprintf(digits, sizeof digits, "%lld", (long long)(n < 0 ? -n : n));
	size_t o = 0;
	if (n < 0 && o + 1 < len)
		buf[o++] = '-';
	for (int i = 0; i < nd && o + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0 && nd > 4)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

/* 5242880 -> "5MiB" */
static void size_words(char *buf, size_t len, int64_t n)
{
	static const struct { const char *unit; int64_t mult; } units[] = {
		{ "GiB", 1024LL * 1024 * 1024 }, { "MiB", 1024LL * 1024 }, { "KiB", 1024 },
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (n >= units[i].mult && n % units[i].mult == 0) {
			snprintf(buf, len, "%lld%s", (long long)(n / units[i].mult), units[i].unit);
			return;
		}
	snprintf(buf, len, "%lld", (long long)n);
}

/* The values the table accepts, in the markup ("" for free text). */
static void values_text(const tr_setting_def *d, char *buf, size_t len)
{
	char lo[32], hi[32];
	*buf = '\0';
	switch (d->type) {
	case TR_T_ENUM: {
		size_t used = 0;
		for (const char *p = d->choices; *p && used < len;) {
			size_t n = strcspn(p, "|");
			used += (size_t)snprintf(buf + used, len - used, "%s`%.*s`", used ? ", " : "", (int)n, p);
			p += n + (p[n] == '|');
		}
		break;
	}
	case TR_T_INT:
		number_words(lo, sizeof lo, d->min);
		number_words(hi, sizeof hi, d->max);
		if (d->max >= (1LL << 40))
			snprintf(buf, len, "%s or more", lo);
		else
			snprintf(buf, len, "%s to %s", lo, hi);
		break;
	case TR_T_SIZE:
		size_words(lo, sizeof lo, d->min);
		size_words(hi, sizeof hi, d->max);
		snprintf(buf, len, "%s to %s", lo, hi);
		break;
	case TR_T_BOOL:
		snprintf(buf, len, "`true`, `false`");
		break;
	case TR_T_FLAG:
		snprintf(buf, len, "no value");
		break;
	default:
		break;
	}
}

/* The default in the markup ("" when there is none to state). */
static void default_text(const tr_setting_def *d, char *buf, size_t len)
{
	if (d->doc_default)
		snprintf(buf, len, "%s", d->doc_default);
	else if (d->defval && *d->defval)
		snprintf(buf, len, "`%s`", d->defval);
	else if (d->defval)
		snprintf(buf, len, "empty");
	else if (d->flags & TR_SF_REQUIRED)
		snprintf(buf, len, "required");
	else
		*buf = '\0';
}

/* help, then doc, then what the flags add. */
static void put_meaning(FILE *out, const tr_setting_def *d, int line_start, enum format f)
{
	const char *doc = tr_setting_doc_text[d - tr_setting_defs()];
	put_text(out, d->help, line_start, f);
	if (doc) {
		fputs("; ", out);
		put_text(out, doc, 0, f);
	}
	if (d->flags & TR_SF_SECRET)
		put_text(out, "; a secret, never printed", 0, f);
}

static int documented(const tr_setting_def *d) { return !(d->flags & TR_SF_DERIVED); }

/* Every documented setting under its group's heading, the groups in their
 * order and the ungrouped (TR_G_NONE) last. */
static void walk_groups(FILE *out, void (*heading)(FILE *, const char *),
			void (*row)(FILE *, const tr_setting_def *))
{
	const tr_setting_def *defs = tr_setting_defs();
	for (int g = 1; g <= TR_G_COUNT; g++) {
		int group = g % TR_G_COUNT, seen = 0;
		for (int i = 0; i < TR_S_COUNT; i++) {
			if (!documented(&defs[i]) || defs[i].group != group)
				continue;
			if (!seen++)
				heading(out, group_title[group]);
			row(out, &defs[i]);
		}
	}
}

static void markdown_variable(FILE *out, const tr_setting_def *d)
{
	if (d->env)
		fprintf(out, "`%s`", d->env);
	if (d->env_alt)
		fprintf(out, " (or `%s`)", d->env_alt);
}

static void markdown_heading(FILE *out, const char *title) { fprintf(out, "| **%s** | | | | |\n", title); }

static void markdown_row(FILE *out, const tr_setting_def *d)
{
	char val[256], def[256];
	values_text(d, val, sizeof val);
	default_text(d, def, sizeof def);
	fprintf(out, "| `--%s` | ", d->name);
	markdown_variable(out, d);
	fputs(" | ", out);
	put_text(out, def, 0, MARKDOWN);
	fputs(" | ", out);
	put_text(out, val, 0, MARKDOWN);
	fputs(" | ", out);
	put_meaning(out, d, 0, MARKDOWN);
	fputs(" |\n", out);
}

static void markdown(FILE *out)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		put_text(out, rules[i], 1, MARKDOWN);
		fputs("\n\n", out);
	}
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
		fprintf(out, "* `%s`: ", options[i].tag);
		put_text(out, options[i].text, 0, MARKDOWN);
		fputs("\n", out);
	}
	fputs("\n| option | variable | default | values | meaning |\n|---|---|---|---|---|\n", out);
	walk_groups(out, markdown_heading, markdown_row);
}

static const char *metavar(const tr_setting_def *d)
{
	if (d->metavar)
		return d->metavar;
	return d->type == TR_T_INT ? "N" : d->type == TR_T_SIZE ? "SIZE" : "VALUE";
}

/* ".BI \-\-name " METAVAR"" (or ".B \-\-name" for a switch) */
static void man_tag(FILE *out, const tr_setting_def *d)
{
	fputs(d->type == TR_T_FLAG ? ".B " : ".BI ", out);
	put_text(out, "--", 0, MAN);
	put_text(out, d->name, 0, MAN);
	if (d->type != TR_T_FLAG) {
		fputs(" \" ", out);
		put_text(out, metavar(d), 0, MAN);
		fputs("\"", out);
	}
	fputs("\n", out);
}

/* "Variable X (or Y). Values: ... Default: ..." after the meaning. */
static void man_facts(FILE *out, const tr_setting_def *d)
{
	char val[256], def[256];
	values_text(d, val, sizeof val);
	default_text(d, def, sizeof def);
	if (d->env) {
		fprintf(out, "Variable \\fB%s\\fR", d->env);
		if (d->env_alt)
			fprintf(out, " (or \\fB%s\\fR)", d->env_alt);
		fputs(".\n", out);
	}
	if (*val && d->type != TR_T_FLAG) {
		fputs("Values: ", out);
		put_text(out, val, 0, MAN);
		fputs(".\n", out);
	}
	if (strcmp(def, "required") == 0) {
		fputs("Required.\n", out);
	} else if (*def) {
		fputs("Default: ", out);
		put_text(out, def, 0, MAN);
		fputs(".\n", out);
	}
}

static void man_heading(FILE *out, const char *title) { fprintf(out, ".SS \"%s\"\n", title); }

static void man_row(FILE *out, const tr_setting_def *d)
{
	fputs(".TP\n", out);
	man_tag(out, d);
	put_meaning(out, d, 1, MAN);
	fputs(".\n", out);
	man_facts(out, d);
}

static void man(FILE *out)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		fputs(i ? ".PP\n" : "", out);
		put_text(out, rules[i], 1, MAN);
		fputs("\n", out);
	}
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
		fputs(".TP\n.B ", out);
		put_text(out, options[i].tag, 0, MAN);
		fputs("\n", out);
		put_text(out, options[i].text, 1, MAN);
		fputs("\n", out);
	}
	walk_groups(out, man_heading, man_row);
}

/* Every setting a user can give, one a line (what `totalrecall help` lists). */
static void names(FILE *out)
{
	const tr_setting_def *defs = tr_setting_defs();
	for (int i = 0; i < TR_S_COUNT; i++)
		if (documented(&defs[i]))
			fprintf(out, "--%s\n", defs[i].name);
}

/* Settings a user can give that no group documents: 1 if any. */
static int undocumented(FILE *out)
{
	const tr_setting_def *defs = tr_setting_defs();
	int any = 0;
	for (int i = 0; i < TR_S_COUNT; i++)
		if (documented(&defs[i]) && defs[i].group == TR_G_NONE) {
			fprintf(out, "--%s\n", defs[i].name);
			any = 1;
		}
	return any;
}

int main(int argc, char **argv)
{
	const char *mode = argc == 2 ? argv[1] : "";
	if (strcmp(mode, "--markdown") == 0)
		markdown(stdout);
	else if (strcmp(mode, "--man") == 0)
		man(stdout);
	else if (strcmp(mode, "--names") == 0)
		names(stdout);
	else if (strcmp(mode, "--undocumented") == 0)
		return undocumented(stdout);
	else {
		fprintf(stderr, "usage: settings-doc --markdown | --man | --names | --undocumented\n");
		return 2;
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
