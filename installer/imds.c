#include "imds.h"

#include "facts.h"
#include "json.h"
#include "log.h"
#include "path.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct body {
	char *data;
	size_t len;
	int too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct body *b = user;
	size_t n = size * nmemb;

	/* MAXFILESIZE does not stop a body of unknown length in curl 7.88: count here. */
	if (n > IB_IMDS_MAX_BYTES - b->len) {
		b->too_big = 1;
		return 0;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	return n;
}

int ib_imds_parse_vm_size(const char *json, size_t len, const char *source, char **vm_size,
                          struct ib_err *err)
{
	/* The service answers with many more members: only vmSize is read. */
	static const struct ib_json_valid size = {ib_valid_vm_size, IB_VM_SIZE_WANTED};
	static const struct ib_json_row rows[] = {
	        {"vmSize", 1, 64, IB_K_REQ, IB_T_STR, 0, sizeof(char *), 0, 0, &size,
	         ib_json_check_valid},
	};
	struct ib_json_ctx c = {.source = source, .err = err, .agent = 1};
	cJSON *root = NULL;
	int rc;

	*vm_size = NULL;
	rc = ib_json_parse(json, len, source, &root, err);
	if (!rc)
		rc = ib_json_read(&c, root, rows, IB_JSON_COUNT(rows), vm_size);
	if (rc) {
		free(*vm_size);
		*vm_size = NULL;
	}
	cJSON_Delete(root);
	return rc;
}

int ib_imds_vm_size(const char *base_url, char **vm_size, struct ib_err *err)
{
	/*
	 * Straight to the service (it refuses proxied requests), plain http. No redirects:
	 * libcurl follows none unless told to.
	 */
	static const struct {
		CURLoption opt;
		const char *value;
	} texts[] = {
	        {CURLOPT_PROXY, ""},
	        {CURLOPT_PROTOCOLS_STR, "http"},
	        {CURLOPT_USERAGENT, "ibdrv/" IBDRV_VERSION}, /* as the downloader */
	};
	static const struct {
		CURLoption opt;
		int value;
	} numbers[] = {
	        {CURLOPT_NOSIGNAL, 1},
	        {CURLOPT_CONNECTTIMEOUT_MS, IB_IMDS_CONNECT_TIMEOUT_MS},
	        {CURLOPT_TIMEOUT_MS, IB_IMDS_TIMEOUT_MS},
	};
	/* Room for the largest answer (parsed by length: no NUL needed). */
	struct body body = {malloc(IB_IMDS_MAX_BYTES), 0, 0};
	char errbuf[CURL_ERROR_SIZE];
	char *url = ib_path_join(base_url, IB_IMDS_COMPUTE_PATH);
	CURL *curl = curl_easy_init();
	struct curl_slist *headers = curl_slist_append(NULL, "Metadata: true");
	CURLcode cc;
	long status = 0;
	int rc = 0;

	*vm_size = NULL;
	errbuf[0] = '\0';
	if (!url || !body.data) {
		rc = ib_oom(err);
		goto out;
	}
	cc = curl_easy_setopt(curl, CURLOPT_URL, url) |
	     curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) |
	     curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) |
	     curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data) |
	     curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		cc |= curl_easy_setopt(curl, texts[i].opt, texts[i].value);
	for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
		cc |= curl_easy_setopt(curl, numbers[i].opt, (long)numbers[i].value);
	if (cc || !headers) {
		rc = ib_fail(err, IB_EINTERNAL, "cannot set up libcurl");
		goto out;
	}
	ib_debug("GET %s", url);
	cc = curl_easy_perform(curl);
	/* Only looked at when the transfer went through. */
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (body.too_big)
		rc = ib_fail(err, IB_EINPUT, "%s: larger than %zu bytes", url,
		             (size_t)IB_IMDS_MAX_BYTES);
	else if (cc)
		rc = ib_fail(err, cc == CURLE_OPERATION_TIMEDOUT ? IB_ETIMEOUT : IB_ENET, "%s: %s",
		             url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (status != 200)
		rc = ib_fail(err, IB_ENET, "%s: HTTP %ld", url, status);
	else
		rc = ib_imds_parse_vm_size(body.data, body.len, url, vm_size, err);
out:
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(body.data);
	free(url);
	return rc;
}
