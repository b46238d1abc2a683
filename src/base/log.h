/* log.h - one line per event on stderr, PostgreSQL puts it in its log. */
#ifndef TR_LOG_H
#define TR_LOG_H

enum tr_log_level { TR_LOG_ERROR = 0, TR_LOG_WARNING = 1, TR_LOG_INFO = 2, TR_LOG_DEBUG = 3 };

/* The level below which messages are printed; TR_LOG_INFO by default. */
void tr_log_set_level(int level);
int tr_log_get_level(void);
/* Parses "error", "warning", "info", "debug"; -1 if unknown. */
int tr_log_parse_level(const char *s);

void tr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text of the last error logged ("" if none), for the metrics record. */
const char *tr_log_last_error(void);
#define tr_error(...) tr_log(TR_LOG_ERROR, __VA_ARGS__)
#define tr_warn(...) tr_log(TR_LOG_WARNING, __VA_ARGS__)
#define tr_info(...) tr_log(TR_LOG_INFO, __VA_ARGS__)
#define tr_debug(...) tr_log(TR_LOG_DEBUG, __VA_ARGS__)

#endif
