#include "demo/internal/catalog.h"

#include <array>
#include <vector>

namespace facet::demo::internal {
namespace {

constexpr City kCities[] = {
    {"佛山", "广东", 12, 230218, 1131219}, {"广州", "广东", 19, 231291, 1132644}, {"深圳", "广东", 18, 225431, 1140579},
    {"上海", "上海", 18, 312304, 1214737}, {"北京", "北京", 15, 399042, 1164074}, {"杭州", "浙江", 9, 302741, 1201551},
    {"成都", "四川", 9, 306598, 1040633},
};

constexpr Store kStores[] = {
    {"S0101", "佛山祖庙店", 0, 230291, 1131110},          {"S0102", "佛山千灯湖店", 0, 230485, 1131436},
    {"S0103", "佛山顺德大良店", 0, 228406, 1132492},      {"S0104", "佛山南海万达店", 0, 230376, 1131478},
    {"S0201", "广州天河城店", 1, 231321, 1133225},        {"S0202", "广州北京路店", 1, 231253, 1132701},
    {"S0203", "广州珠江新城店", 1, 231192, 1133219},      {"S0204", "广州番禺万达店", 1, 229495, 1133800},
    {"S0205", "广州白云万达店", 1, 231740, 1132711},      {"S0301", "深圳华强北店", 2, 225427, 1140859},
    {"S0302", "深圳万象城店", 2, 225376, 1141113},        {"S0303", "深圳海岸城店", 2, 225172, 1139363},
    {"S0304", "深圳福田COCO Park店", 2, 225347, 1140551}, {"S0305", "深圳龙华店", 2, 226569, 1140295},
    {"S0401", "上海南京东路店", 3, 312376, 1214780},      {"S0402", "上海徐家汇店", 3, 311951, 1214369},
    {"S0403", "上海陆家嘴店", 3, 312381, 1215028},        {"S0404", "上海静安寺店", 3, 312235, 1214452},
    {"S0405", "上海五角场店", 3, 312990, 1215140},        {"S0501", "北京王府井店", 4, 399139, 1164108},
    {"S0502", "北京三里屯店", 4, 399366, 1164552},        {"S0503", "北京西单店", 4, 399110, 1163746},
    {"S0504", "北京中关村店", 4, 399833, 1163164},        {"S0505", "北京望京店", 4, 399965, 1164706},
    {"S0601", "杭州湖滨银泰店", 5, 302574, 1201646},      {"S0602", "杭州西溪印象城店", 5, 302733, 1200698},
    {"S0603", "杭州滨江店", 5, 302084, 1202106},          {"S0701", "成都春熙路店", 6, 306571, 1040817},
    {"S0702", "成都太古里店", 6, 306538, 1040839},        {"S0703", "成都环球中心店", 6, 305717, 1040619},
};

constexpr Product kProducts[] = {
    {"SKU10001", "清透日抛隐形眼镜 30片装", "隐形眼镜", Category::kContactLens, 18900, 20},
    {"SKU10002", "清透日抛隐形眼镜 90片装", "隐形眼镜", Category::kContactLens, 46900, 10},
    {"SKU10003", "水润月抛隐形眼镜 6片装", "隐形眼镜", Category::kContactLens, 23800, 12},
    {"SKU10004", "硅水凝胶月抛隐形眼镜 3片装", "隐形眼镜", Category::kContactLens, 16800, 8},
    {"SKU10005", "散光日抛隐形眼镜 30片装", "隐形眼镜", Category::kContactLens, 29900, 4},
    {"SKU10006", "多焦点月抛隐形眼镜 6片装", "隐形眼镜", Category::kContactLens, 39800, 2},
    {"SKU10007", "半年抛隐形眼镜 2片装", "隐形眼镜", Category::kContactLens, 15800, 3},
    {"SKU20001", "星河棕日抛美瞳 10片装", "彩色隐形眼镜", Category::kColoredLens, 9900, 14},
    {"SKU20002", "琥珀灰日抛美瞳 10片装", "彩色隐形眼镜", Category::kColoredLens, 9900, 10},
    {"SKU20003", "蜜糖茶月抛美瞳 2片装", "彩色隐形眼镜", Category::kColoredLens, 12900, 8},
    {"SKU20004", "冰川蓝月抛美瞳 2片装", "彩色隐形眼镜", Category::kColoredLens, 12900, 4},
    {"SKU20005", "自然黑日抛美瞳 30片装", "彩色隐形眼镜", Category::kColoredLens, 23900, 6},
    {"SKU30001", "多功能护理液 360ml", "护理液", Category::kCare, 6900, 18},
    {"SKU30002", "多功能护理液 500ml+120ml", "护理液", Category::kCare, 9800, 10},
    {"SKU30003", "双氧水护理液 360ml", "护理液", Category::kCare, 11800, 5},
    {"SKU30004", "蛋白酶清洁片 10片", "护理液", Category::kCare, 4900, 4},
    {"SKU30005", "隐形眼镜润眼液 15ml", "护眼产品", Category::kEyeCare, 3900, 10},
    {"SKU30006", "玻璃酸钠滴眼液 10ml", "护眼产品", Category::kEyeCare, 5800, 5},
    {"SKU30007", "蒸汽眼罩 10片装", "护眼产品", Category::kEyeCare, 4500, 6},
    {"SKU40001", "超轻钛架 TF-201", "框架眼镜", Category::kFrame, 69900, 4},
    {"SKU40002", "复古板材镜架 AC-318", "框架眼镜", Category::kFrame, 49900, 4},
    {"SKU40003", "儿童防滑镜架 KD-12", "框架眼镜", Category::kFrame, 39900, 3},
    {"SKU40004", "纯钛商务镜架 TB-88", "框架眼镜", Category::kFrame, 128000, 2},
    {"SKU50001", "1.60 防蓝光非球面镜片(对)", "镜片", Category::kSpectacleLens, 58000, 8},
    {"SKU50002", "1.67 超薄非球面镜片(对)", "镜片", Category::kSpectacleLens, 98000, 4},
    {"SKU50003", "1.74 超薄非球面镜片(对)", "镜片", Category::kSpectacleLens, 168000, 2},
    {"SKU50004", "青少年近视管理镜片(对)", "镜片", Category::kSpectacleLens, 298000, 2},
    {"SKU50005", "渐进多焦点镜片(对)", "镜片", Category::kSpectacleLens, 328000, 1},
    {"SKU60001", "偏光太阳镜 SG-07", "太阳镜", Category::kSunglasses, 45900, 3},
    {"SKU60002", "猫眼时尚太阳镜 SG-15", "太阳镜", Category::kSunglasses, 32900, 2},
    {"SKU70001", "专业电脑验光", "验光服务", Category::kService, 3000, 10},
    {"SKU70002", "角膜塑形镜验配", "验光服务", Category::kService, 680000, 1},
};

constexpr NameChar kSurnames[] = {
    {"王", "wang"},  {"李", "li"},    {"张", "zhang"},    {"刘", "liu"},    {"陈", "chen"},  {"杨", "yang"},
    {"黄", "huang"}, {"赵", "zhao"},  {"吴", "wu"},       {"周", "zhou"},   {"徐", "xu"},    {"孙", "sun"},
    {"马", "ma"},    {"朱", "zhu"},   {"胡", "hu"},       {"郭", "guo"},    {"何", "he"},    {"林", "lin"},
    {"罗", "luo"},   {"高", "gao"},   {"梁", "liang"},    {"郑", "zheng"},  {"谢", "xie"},   {"宋", "song"},
    {"唐", "tang"},  {"许", "xu"},    {"韩", "han"},      {"冯", "feng"},   {"邓", "deng"},  {"曹", "cao"},
    {"彭", "peng"},  {"曾", "zeng"},  {"肖", "xiao"},     {"田", "tian"},   {"董", "dong"},  {"潘", "pan"},
    {"袁", "yuan"},  {"蔡", "cai"},   {"蒋", "jiang"},    {"余", "yu"},     {"于", "yu"},    {"杜", "du"},
    {"叶", "ye"},    {"程", "cheng"}, {"魏", "wei"},      {"苏", "su"},     {"吕", "lv"},    {"丁", "ding"},
    {"任", "ren"},   {"卢", "lu"},    {"姚", "yao"},      {"沈", "shen"},   {"钟", "zhong"}, {"姜", "jiang"},
    {"崔", "cui"},   {"谭", "tan"},   {"陆", "lu"},       {"范", "fan"},    {"汪", "wang"},  {"廖", "liao"},
    {"石", "shi"},   {"金", "jin"},   {"韦", "wei"},      {"贾", "jia"},    {"夏", "xia"},   {"方", "fang"},
    {"邹", "zou"},   {"熊", "xiong"}, {"白", "bai"},      {"孟", "meng"},   {"秦", "qin"},   {"邱", "qiu"},
    {"侯", "hou"},   {"江", "jiang"}, {"尹", "yin"},      {"薛", "xue"},    {"段", "duan"},  {"雷", "lei"},
    {"龙", "long"},  {"黎", "li"},    {"欧阳", "ouyang"}, {"司马", "sima"},
};

constexpr NameChar kFemaleGiven[] = {
    {"芳", "fang"}, {"娜", "na"},   {"敏", "min"},  {"静", "jing"}, {"丽", "li"},   {"婷", "ting"}, {"雪", "xue"},
    {"琳", "lin"},  {"颖", "ying"}, {"倩", "qian"}, {"欣", "xin"},  {"怡", "yi"},   {"佳", "jia"},  {"雨", "yu"},
    {"萱", "xuan"}, {"璐", "lu"},   {"晶", "jing"}, {"妍", "yan"},  {"霞", "xia"},  {"洁", "jie"},  {"露", "lu"},
    {"瑶", "yao"},  {"梦", "meng"}, {"思", "si"},   {"诗", "shi"},  {"月", "yue"},  {"玉", "yu"},   {"慧", "hui"},
    {"蕾", "lei"},  {"晨", "chen"}, {"婉", "wan"},  {"琪", "qi"},   {"嘉", "jia"},  {"悦", "yue"},  {"楠", "nan"},
    {"馨", "xin"},  {"可", "ke"},   {"艺", "yi"},   {"晓", "xiao"}, {"彤", "tong"},
};

constexpr NameChar kMaleGiven[] = {
    {"伟", "wei"},  {"强", "qiang"}, {"磊", "lei"},  {"军", "jun"},  {"洋", "yang"}, {"勇", "yong"}, {"杰", "jie"},
    {"涛", "tao"},  {"明", "ming"},  {"超", "chao"}, {"鹏", "peng"}, {"浩", "hao"},  {"宇", "yu"},   {"俊", "jun"},
    {"辉", "hui"},  {"鑫", "xin"},   {"凯", "kai"},  {"博", "bo"},   {"文", "wen"},  {"斌", "bin"},  {"宁", "ning"},
    {"健", "jian"}, {"峰", "feng"},  {"轩", "xuan"}, {"子", "zi"},   {"然", "ran"},  {"志", "zhi"},  {"海", "hai"},
    {"建", "jian"}, {"晨", "chen"},  {"嘉", "jia"},  {"铭", "ming"}, {"睿", "rui"},  {"天", "tian"}, {"泽", "ze"},
};

constexpr std::string_view kMobilePrefixes[] = {
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180",
    "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "195", "198", "199",
};

constexpr WeightedName kEmailDomains[] = {
    {"qq.com", 36},     {"163.com", 20}, {"126.com", 8},     {"icloud.com", 7}, {"outlook.com", 5}, {"gmail.com", 4},
    {"foxmail.com", 4}, {"sina.com", 4}, {"hotmail.com", 3}, {"139.com", 3},    {"yeah.net", 2},
};

constexpr Device kDevices[] = {
    {"Apple", "iPhone 15 Pro", true, 10}, {"Apple", "iPhone 14", true, 10},    {"Apple", "iPhone 13", true, 9},
    {"Apple", "iPhone 12", true, 5},      {"HUAWEI", "Mate 60 Pro", false, 9}, {"HUAWEI", "nova 11", false, 6},
    {"Xiaomi", "Xiaomi 14", false, 8},    {"Xiaomi", "Redmi K70", false, 6},   {"OPPO", "Reno11", false, 6},
    {"vivo", "X100", false, 6},           {"HONOR", "Magic6", false, 5},       {"OnePlus", "OnePlus 12", false, 2},
};

constexpr Scene kScenes[] = {
    {1001, "发现栏小程序主入口", 30},
    {1089, "微信聊天主界面下拉", 22},
    {1007, "单人聊天会话中的小程序消息卡片", 10},
    {1008, "群聊会话中的小程序消息卡片", 8},
    {1035, "公众号自定义菜单", 10},
    {1047, "扫描小程序码", 8},
    {1011, "扫描二维码", 6},
    {1037, "小程序打开小程序", 3},
    {1053, "搜一搜的结果页", 3},
};

constexpr Page kWebPages[] = {
    {"/", "明眸视光官网 - 首页"},
    {"/products/contact-lenses", "隐形眼镜 - 明眸视光"},
    {"/products/colored-lenses", "彩色美瞳 - 明眸视光"},
    {"/products/frames", "镜架 - 明眸视光"},
    {"/products/lens-care", "护理液 - 明眸视光"},
    {"/stores", "门店查询 - 明眸视光"},
    {"/eye-exam", "预约验光 - 明眸视光"},
    {"/promotions/member-day", "会员日 - 明眸视光"},
    {"/articles/myopia-control", "青少年近视防控指南 - 明眸视光"},
    {"/articles/contact-lens-care", "隐形眼镜护理小知识 - 明眸视光"},
    {"/member/login", "会员登录 - 明眸视光"},
};

constexpr std::string_view kReferrers[] = {
    "",
    "",
    "",
    "https://www.baidu.com/",
    "https://www.baidu.com/",
    "https://www.xiaohongshu.com/",
    "https://www.xiaohongshu.com/",
    "https://weibo.com/",
    "https://www.zhihu.com/",
    "https://www.douyin.com/",
    "https://cn.bing.com/",
};

constexpr std::string_view kAppScreens[] = {
    "首页", "首页", "分类", "商品详情", "商品详情", "购物车", "我的", "门店", "会员码", "订单列表", "积分商城",
};

constexpr std::string_view kMiniProgramScreens[] = {
    "首页", "首页", "商品详情", "商品详情", "会员中心", "优惠券", "门店列表", "预约验光", "积分商城", "防伪查询",
};

constexpr std::string_view kPaymentMethods[] = {
    "微信支付", "微信支付", "微信支付", "支付宝", "支付宝", "银联", "现金", "会员储值",
};

template <size_t N, typename F>
std::array<std::vector<int>, N> Group(F key, size_t count) {
  std::array<std::vector<int>, N> out;
  for (size_t i = 0; i < count; ++i) out[key(i)].push_back(static_cast<int>(i));
  return out;
}

constexpr size_t kCityCount = sizeof(kCities) / sizeof(kCities[0]);
constexpr size_t kKindCount = static_cast<size_t>(Category::kService) + 1;

const std::array<std::vector<int>, kCityCount>& StoresByCity() {
  static const auto* groups = new std::array<std::vector<int>, kCityCount>(
      Group<kCityCount>([](size_t i) { return static_cast<size_t>(kStores[i].city); }, std::size(kStores)));
  return *groups;
}

const std::array<std::vector<int>, kKindCount>& ProductsByKind() {
  static const auto* groups = new std::array<std::vector<int>, kKindCount>(
      Group<kKindCount>([](size_t i) { return static_cast<size_t>(kProducts[i].kind); }, std::size(kProducts)));
  return *groups;
}

}  // namespace

std::span<const City> Cities() { return kCities; }
std::span<const Store> Stores() { return kStores; }
std::span<const int> StoresOfCity(int city) { return StoresByCity()[static_cast<size_t>(city)]; }
std::span<const Product> Products() { return kProducts; }
std::span<const int> ProductsOfKind(Category kind) { return ProductsByKind()[static_cast<size_t>(kind)]; }
std::span<const NameChar> Surnames() { return kSurnames; }
std::span<const NameChar> FemaleGiven() { return kFemaleGiven; }
std::span<const NameChar> MaleGiven() { return kMaleGiven; }
std::span<const std::string_view> MobilePrefixes() { return kMobilePrefixes; }
std::span<const WeightedName> EmailDomains() { return kEmailDomains; }
std::span<const Device> Devices() { return kDevices; }
std::span<const Scene> MiniProgramScenes() { return kScenes; }
std::span<const Page> WebPages() { return kWebPages; }
std::span<const std::string_view> Referrers() { return kReferrers; }
std::span<const std::string_view> AppScreens() { return kAppScreens; }
std::span<const std::string_view> MiniProgramScreens() { return kMiniProgramScreens; }
std::span<const std::string_view> PaymentMethods() { return kPaymentMethods; }

}  // namespace facet::demo::internal
