/*
 * sms.h - the SMS gateway client ([sms] in flashsale.conf): sends a verification
 * code through the provider's HTTP API. The request is JSON {PhoneNumbers,
 * SignName, TemplateCode, TemplateParam} signed with HMAC-SHA256 over
 * "timestamp\nnonce\nbody" under the access secret; the answer is {Code: "OK", ...}.
 */
#ifndef FS_SMS_H
#define FS_SMS_H

#include <stddef.h>

#include "config.h"

/* How a send went. */
enum sms_rc { SMS_OK = 0, SMS_REJECTED = 1, SMS_UNREACHABLE = -1, SMS_NOCONFIG = -2 };

/* Send the verification code to mobile; err gets the provider's message on failure. */
int sms_send_code(const struct fs_config *cfg, const char *mobile, const char *code, char *err,
		  size_t errlen);

#endif
