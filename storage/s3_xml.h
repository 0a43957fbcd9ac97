// The few pieces of S3's XML that the client reads and writes: error documents,
// the upload id of a new multipart upload and the list of parts that completes one.
// S3 answers are small and flat, so a tag search is enough; no XML library.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::storage {

// The text between <tag> and </tag> (first occurrence), entities decoded; nullopt
// when the element is absent.
std::optional<std::string> xml_element(std::string_view xml, std::string_view tag);

// "NoSuchBucket: The specified bucket does not exist" from an <Error> document; ""
// when `body` holds none (HEAD answers and some proxies' error pages have no body).
std::string s3_error_line(std::string_view body);
// The <Code> of an <Error> document, or "".
std::string s3_error_code(std::string_view body);

struct CompletedPart {
  unsigned number = 0;
  std::string etag;  // as the part's upload answered it, quotes included
};
std::string complete_multipart_body(const std::vector<CompletedPart>& parts);

}  // namespace shoal::storage
