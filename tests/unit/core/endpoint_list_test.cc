#include "core/endpoint_list.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace shoal {
namespace {

TEST(EndpointList, ParsesACommaSeparatedList) {
  auto l = EndpointList::parse(" http://a:4100 , http://b:4100,,");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_FALSE(l->from_dns());
  ASSERT_EQ(l->urls().size(), 2u);
  EXPECT_EQ(l->urls()[1].str(), "http://b:4100");
  EXPECT_EQ(l->str(), "http://a:4100,http://b:4100");
}

TEST(EndpointList, RejectsBadElementsNamingThem) {
  auto l = EndpointList::parse("http://a:4100,ftp://b");
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().message.find("ftp://b"), std::string::npos);
  EXPECT_FALSE(EndpointList::parse(""));
  EXPECT_FALSE(EndpointList::parse(" , "));
}

TEST(EndpointList, ParsesDnsNames) {
  auto l = EndpointList::parse("dns:localhost:4100");
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->from_dns());
  EXPECT_EQ(l->str(), "dns:localhost:4100");
  EXPECT_FALSE(EndpointList::parse("dns:localhost"));
  EXPECT_FALSE(EndpointList::parse("dns::4100"));
  EXPECT_FALSE(EndpointList::parse("dns:host:0"));
  EXPECT_FALSE(EndpointList::parse("dns:host:99999"));
}

TEST(EndpointList, ResolvesEveryAddressRecordSorted) {
  // localhost resolves from /etc/hosts, without any network.
  auto urls = EndpointList::parse("dns:localhost:4100")->resolve();
  ASSERT_TRUE(urls) << urls.error().message;
  ASSERT_FALSE(urls->empty());
  for (const Url& u : *urls) EXPECT_EQ(u.port, 4100);
  EXPECT_TRUE(std::is_sorted(urls->begin(), urls->end(),
                             [](const Url& a, const Url& b) { return a.str() < b.str(); }));
  EXPECT_FALSE(EndpointList::parse("dns:no-such-host.invalid:1")->resolve());
}

TEST(EndpointList, CanonicalMembersDropDuplicates) {
  auto a = *Url::parse("http://b:1"), b = *Url::parse("http://a:1");
  auto m = canonical_members({a, b, a});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].str(), "http://a:1");
}

}  // namespace
}  // namespace shoal
