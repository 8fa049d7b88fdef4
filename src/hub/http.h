#pragma once
// A thin libcurl wrapper for the Hub client: one request, one response, redirects NOT followed
// (the caller follows them itself so that it decides, hop by hop, where the token may go).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hh::hub {

struct HttpRequest {
  std::string method = "GET";  // "GET" or "HEAD"
  std::string url;
  std::vector<std::string> headers;  // "Name: value" lines
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // abort when under 1 byte/s for this long
  // Called once the final status line and headers are in, before any body byte; it may throw
  // nothing (curl is C) — it returns false to abort the transfer.
  std::function<bool(long status, const std::map<std::string, std::string>& headers)> on_headers;
  // Receives the body of a 2xx response (other bodies are kept in HttpResponse::body, capped).
  // Returns false to abort the transfer (a write error, for instance).
  std::function<bool(const char* data, size_t size)> on_body;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; the last value wins
  std::string redirect_url;                    // absolute target of a 3xx response, else ""
  std::string body;                            // non-2xx body or a 2xx body without on_body
  int curl_code = 0;                           // CURLcode; 0 when the transfer completed
  std::string curl_error;                      // text for curl_code
  bool aborted_by_callback = false;            // on_headers / on_body returned false
};

// Performs the request. Transport failures (no connection, cut transfer) are reported through
// curl_code, never thrown, so the caller can word the message for its own context.
HttpResponse http_perform(const HttpRequest& request);

// "scheme://host:port" of an absolute URL, lower-cased, with the default port filled in; "" if
// the URL is not absolute. Two URLs with the same origin are the same server.
std::string url_origin(const std::string& url);

// Percent-encodes everything but unreserved characters; '/' is kept when keep_slash is true.
std::string url_encode(const std::string& text, bool keep_slash);

}  // namespace hh::hub
