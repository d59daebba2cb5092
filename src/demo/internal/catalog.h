// The fixed vocabulary of the demo data set: an optical and contact-lens
// retail chain (明眸视光) with stores in seven cities, its products, Chinese
// names with their pinyin, phone prefixes, devices and daily rhythms.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace facet::demo::internal {

struct City {
  std::string_view name;
  std::string_view province;
  int weight;           // share of the customer base
  int64_t latitude_e4;  // centre, degrees * 10^4
  int64_t longitude_e4;
};

struct Store {
  std::string_view id;  // "S0101"
  std::string_view name;
  int city;  // index into Cities()
  int64_t latitude_e4;
  int64_t longitude_e4;
};

enum class Category { kContactLens, kColoredLens, kCare, kEyeCare, kFrame, kSpectacleLens, kSunglasses, kService };

struct Product {
  std::string_view id;
  std::string_view name;
  std::string_view category;
  Category kind;
  int64_t price_fen;  // CNY cents
  int weight;         // popularity within its kind
};

struct NameChar {
  std::string_view hanzi;
  std::string_view pinyin;
};

struct WeightedName {
  std::string_view value;
  int weight;
};

struct Device {
  std::string_view manufacturer;
  std::string_view model;
  bool ios;
  int weight;
};

std::span<const City> Cities();
std::span<const Store> Stores();
// Stores of `city`, as indexes into Stores().
std::span<const int> StoresOfCity(int city);
std::span<const Product> Products();
// Products of one kind, as indexes into Products().
std::span<const int> ProductsOfKind(Category kind);

std::span<const NameChar> Surnames();  // most common first
std::span<const NameChar> FemaleGiven();
std::span<const NameChar> MaleGiven();
std::span<const std::string_view> MobilePrefixes();  // "138", "159", ...
std::span<const WeightedName> EmailDomains();
std::span<const Device> Devices();

// Mini-program entry scenes: code and what it means.
struct Scene {
  int code;
  std::string_view name;
  int weight;
};
std::span<const Scene> MiniProgramScenes();

struct Page {
  std::string_view path;
  std::string_view title;
};
std::span<const Page> WebPages();
std::span<const std::string_view> Referrers();  // "" = direct
std::span<const std::string_view> AppScreens();
std::span<const std::string_view> MiniProgramScreens();
std::span<const std::string_view> PaymentMethods();

// Relative activity per local hour (0..23) and per weekday (0 = Sunday).
inline constexpr int kOnlineHours[24] = {3, 2, 1, 1, 1, 1, 2, 4, 6, 6, 6, 7, 9, 8, 6, 6, 6, 7, 8, 10, 13, 14, 12, 7};
inline constexpr int kNightOwlHours[24] = {12, 9, 6, 4, 2, 1, 1, 1, 2, 3, 4, 5, 6, 6, 5, 5, 5, 6, 7, 9, 11, 13, 15, 14};
inline constexpr int kStoreHours[24] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 7, 8, 8, 9, 10, 9, 8, 8, 10, 11, 9, 5, 0};
inline constexpr int kOnlineWeekdays[7] = {12, 9, 9, 9, 9, 10, 12};
inline constexpr int kStoreWeekdays[7] = {17, 7, 7, 7, 8, 11, 18};

}  // namespace facet::demo::internal
