/*
 * rss_floor BUNDLE URL - the least memory any streaming installer built on
 * libarchive, libsodium, libcurl and cJSON can hold: the four libraries
 * loaded and initialised, one small HTTP GET of URL, and BUNDLE read through
 * libarchive's zstd and tar readers with a 64 KiB buffer. No threads, no
 * hashing, no extraction, no rings: bench/download prints its peak RSS beside
 * the installer's, so that the 16 MiB target can be judged against it.
 */
#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>

static size_t discard(char *data, size_t size, size_t nmemb, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * nmemb;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	struct archive *a;
	struct archive_entry *e;
	CURL *c;
	int rc = 0;

	if (argc != 3 || sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 2;
	cJSON_Delete(cJSON_Parse("{}"));
	c = curl_easy_init();
	if (!c)
		return 2;
	curl_easy_setopt(c, CURLOPT_URL, argv[2]);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(c) != CURLE_OK)
		rc = 1;
	curl_easy_cleanup(c);
	a = archive_read_new();
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, argv[1], sizeof buf) != ARCHIVE_OK)
		rc = 1;
	while (rc == 0 && archive_read_next_header(a, &e) == ARCHIVE_OK)
		while (archive_read_data(a, buf, sizeof buf) > 0)
			;
	archive_read_free(a);
	curl_global_cleanup();
	return rc;
}
