/* settings_doc_text.h - the settings' documentation texts (settings-doc only). */
#ifndef TR_SETTINGS_DOC_TEXT_H
#define TR_SETTINGS_DOC_TEXT_H

#include "conf/settings.h"

/* Indexed by TR_S_*: what the documentation adds to the setting's help
 * (`backquotes` mark literals), or NULL. */
extern const char *const tr_setting_doc_text[TR_S_COUNT];

#endif
