#include "storage/s3_xml.h"

namespace shoal::storage {
namespace {

std::string decode_entities(std::string_view s) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool matched = false;
    for (const auto& [entity, c] : kEntities) {
      if (s.substr(i, entity.size()) == entity) {
        out.push_back(c);
        i += entity.size();
        matched = true;
        break;
      }
    }
    if (!matched) out.push_back(s[i++]);
  }
  return out;
}

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// One line: error messages end up in logs and start-up errors.
std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

std::optional<std::string> xml_element(std::string_view xml, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  auto start = xml.find(open);
  if (start == std::string_view::npos) return std::nullopt;
  start += open.size();
  auto end = xml.find(close, start);
  if (end == std::string_view::npos) return std::nullopt;
  return decode_entities(xml.substr(start, end - start));
}

std::string s3_error_code(std::string_view body) {
  if (body.find("<Error>") == std::string_view::npos) return "";
  return one_line(xml_element(body, "Code").value_or(""));
}

std::string s3_error_line(std::string_view body) {
  std::string code = s3_error_code(body);
  if (code.empty()) return "";
  std::string message = one_line(xml_element(body, "Message").value_or(""));
  return message.empty() ? code : code + ": " + message;
}

std::string complete_multipart_body(const std::vector<CompletedPart>& parts) {
  std::string out = "<CompleteMultipartUpload>";
  for (const auto& p : parts) {
    out += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" +
           escape(p.etag) + "</ETag></Part>";
  }
  return out + "</CompleteMultipartUpload>";
}

}  // namespace shoal::storage
