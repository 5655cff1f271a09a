// The HTML report in a real browser: Debian's Chromium, headless, opens the fixture report from file:// and
// (1) --dump-dom gives a DOM with every chart, the eval table and the traces, the markup in traces still text;
// (2) --screenshot gives a PNG of the requested size that is not blank: decoded (zlib), it holds the chart
// series' colours. Chromium is installed by tools/setup.sh; when it is missing the test fails (set
// DISTILL_ALLOW_SKIP=1 to skip instead). DISTILL_CHROMIUM names another binary; DISTILL_REPORT_KEEP=1 keeps the
// report and screenshot (the temp folder is printed).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#if DISTILL_HAVE_ZLIB
#include <zlib.h>
#endif

#include "tests/eval/report_fixture.h"
#include "tools/eval/report.h"

namespace distill::eval {
namespace {

namespace fs = std::filesystem;
namespace fx = testing::report_fixture;

constexpr int kWidth = 1280, kHeight = 2000;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string FindChromium() {
  if (const char* env = std::getenv("DISTILL_CHROMIUM"); env && *env) return env;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
      const fs::path candidate = fs::path(dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return "";
}

struct ShellRun {
  int exit_code = -1;
  std::string out;
};

// Runs a shell command (stdout captured; stderr to `err_file`).
ShellRun Shell(const std::string& command, const fs::path& err_file) {
  ShellRun run;
  FILE* pipe = popen((command + " 2>'" + err_file.string() + "'").c_str(), "r");
  if (!pipe) return run;
  std::array<char, 65536> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<unsigned char>(s[at])} << 24) | (uint32_t{static_cast<unsigned char>(s[at + 1])} << 16) |
         (uint32_t{static_cast<unsigned char>(s[at + 2])} << 8) | uint32_t{static_cast<unsigned char>(s[at + 3])};
}

struct Image {
  int width = 0, height = 0;
  std::vector<std::array<uint8_t, 3>> rgb;  // row-major
};

#if DISTILL_HAVE_ZLIB
int Paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes); an error message otherwise.
std::string DecodePng(const std::string& png, Image* image) {
  std::string idat;
  int depth = 0, color = 0, interlace = 0;
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t length = BigEndian32(png, at);
    if (at + 12 + length > png.size()) return "chunk past the end";
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") {
      image->width = static_cast<int>(BigEndian32(png, at + 8));
      image->height = static_cast<int>(BigEndian32(png, at + 12));
      depth = static_cast<unsigned char>(png[at + 16]);
      color = static_cast<unsigned char>(png[at + 17]);
      interlace = static_cast<unsigned char>(png[at + 20]);
    } else if (type == "IDAT") {
      idat.append(png, at + 8, length);
    }
    at += 12 + length;
  }
  if (depth != 8 || (color != 2 && color != 6) || interlace != 0) {
    return "unsupported PNG (depth " + std::to_string(depth) + ", colour type " + std::to_string(color) + ")";
  }
  const size_t channels = color == 6 ? 4 : 3;
  const size_t stride = static_cast<size_t>(image->width) * channels;
  std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(image->height));
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      raw_size != raw.size()) {
    return "IDAT does not inflate to the image size";
  }
  std::vector<uint8_t> prev(stride, 0), row(stride);
  image->rgb.reserve(static_cast<size_t>(image->width) * static_cast<size_t>(image->height));
  for (int y = 0; y < image->height; ++y) {
    const uint8_t* line = raw.data() + static_cast<size_t>(y) * (stride + 1);
    const int filter = line[0];
    for (size_t i = 0; i < stride; ++i) {
      const int x = line[1 + i];
      const int a = i >= channels ? row[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
      int v = x;
      switch (filter) {
        case 0: break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + (a + b) / 2; break;
        case 4: v = x + Paeth(a, b, c); break;
        default: return "bad filter " + std::to_string(filter);
      }
      row[i] = static_cast<uint8_t>(v & 0xFF);
    }
    for (size_t px = 0; px < static_cast<size_t>(image->width); ++px) {
      image->rgb.push_back({row[px * channels], row[px * channels + 1], row[px * channels + 2]});
    }
    std::swap(prev, row);
  }
  return "";
}
#endif

class ReportChromium : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = FindChromium();
    if (chromium_.empty()) {
      if (std::getenv("DISTILL_ALLOW_SKIP")) GTEST_SKIP() << "chromium not found (DISTILL_ALLOW_SKIP is set)";
      FAIL() << "chromium not found on PATH: run tools/setup.sh (it installs Debian's chromium), set "
                "DISTILL_CHROMIUM to a Chromium/Chrome binary, or set DISTILL_ALLOW_SKIP=1 to skip this test";
    }
    root_ = fx::TempFolder(std::string("chromium-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    const std::vector<std::string> dirs = fx::WriteFixture(root_ / "runs");
    report_ = root_ / "report.html";
    ReportOptions options;
    options.title = "Chromium fixture";
    auto inputs = MakeReport(dirs, options, report_.string());
    ASSERT_TRUE(inputs.ok()) << inputs.status();
  }
  void TearDown() override {
    if (root_.empty()) return;
    if (std::getenv("DISTILL_REPORT_KEEP")) {  // keep report.html and shot.png to look at
      std::printf("kept %s\n", root_.c_str());
      return;
    }
    fs::remove_all(root_);
  }

  // Runs headless Chromium on the report with `flags`, a fresh profile and a timeout.
  ShellRun Chromium(const std::string& flags, const std::string& tag) {
    const fs::path profile = root_ / ("profile-" + tag);
    fs::create_directories(profile);
    std::string url = "file://";
    for (char c : report_.string()) url += c == ' ' ? std::string("%20") : std::string(1, c);
    const std::string command = "timeout -k 10 120 '" + chromium_ +
                                "' --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
                                "--no-default-browser-check --disable-extensions --hide-scrollbars --mute-audio "
                                "--user-data-dir='" +
                                profile.string() + "' " + flags + " '" + url + "'";
    ShellRun run = Shell(command, root_ / ("chromium-" + tag + ".err"));
    if (run.exit_code != 0) run.out += "\nstderr:\n" + Slurp(root_ / ("chromium-" + tag + ".err"));
    return run;
  }

  std::string chromium_;
  fs::path root_, report_;
};

// Property: Chromium parses the report into a DOM holding every chart (with its series), the eval table with both
// runs, and all traces; the trace's "<script>" stayed text and no script element exists.
TEST_F(ReportChromium, DomHasEveryChartTableAndTrace) {
  const ShellRun run = Chromium("--dump-dom", "dom");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const std::string& dom = run.out;
  ASSERT_NE(dom.find("</html>"), std::string::npos) << dom.substr(0, 2000);
  for (const char* chart : {"loss-train-a", "lr-train-a", "throughput-train-a", "reasoning-length-eval-a",
                            "reasoning-length-eval-b"}) {
    EXPECT_NE(dom.find(std::string("data-chart=\"") + chart + "\""), std::string::npos) << chart;
  }
  EXPECT_EQ(Count(dom, "<svg class=\"chart"), 5u);
  EXPECT_EQ(Count(dom, "<polyline"), 4u);  // train loss, val loss, lr, tokens/s
  EXPECT_GE(Count(dom, "<rect class=\"bar\""), 8u);
  EXPECT_NE(dom.find("<table id=\"eval-table\">"), std::string::npos);
  EXPECT_NE(dom.find("<th data-run=\"eval-a\">"), std::string::npos);
  EXPECT_NE(dom.find("<th data-run=\"eval-b\">"), std::string::npos);
  EXPECT_NE(dom.find("<section class=\"samples\" data-run=\"eval-a\">"), std::string::npos);
  EXPECT_EQ(Count(dom, "<article class=\"trace"), 12u);
  EXPECT_EQ(Count(dom, "<details class=\"reasoning\">"), 12u);
  EXPECT_EQ(dom.find("<script"), std::string::npos);
  EXPECT_NE(dom.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(dom.find("<title>Chromium fixture</title>"), std::string::npos);
}

// Property: the screenshot is a PNG of the requested size and shows the charts: decoded, it is far from one colour
// and holds the train charts' series colours (loss blue, val-loss orange, lr purple, throughput green).
TEST_F(ReportChromium, ScreenshotShowsTheCharts) {
  const fs::path png_path = root_ / "shot.png";
  const ShellRun run = Chromium("--window-size=" + std::to_string(kWidth) + "," + std::to_string(kHeight) +
                               " --screenshot='" + png_path.string() + "'",
                           "shot");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  ASSERT_TRUE(fs::exists(png_path)) << run.out;
  const std::string png = Slurp(png_path);
  ASSERT_GT(png.size(), 33u);
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  ASSERT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(BigEndian32(png, 16), static_cast<uint32_t>(kWidth));
  EXPECT_EQ(BigEndian32(png, 20), static_cast<uint32_t>(kHeight));
  // A blank 1280×2000 page compresses to ~10 KB; text and charts take far more.
  EXPECT_GT(png.size(), 60000u);
#if DISTILL_HAVE_ZLIB
  Image image;
  const std::string error = DecodePng(png, &image);
  ASSERT_EQ(error, "");
  ASSERT_EQ(image.rgb.size(), static_cast<size_t>(kWidth) * kHeight);
  std::set<uint32_t> colours;
  size_t background = 0;
  for (const auto& p : image.rgb) {
    colours.insert((uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2]);
    background += p[0] == 0xfa && p[1] == 0xfa && p[2] == 0xfa;
  }
  EXPECT_GT(colours.size(), 100u);
  EXPECT_LT(background, image.rgb.size() * 95 / 100);  // not just the page background
  auto near = [&](uint8_t r, uint8_t g, uint8_t b) {
    size_t n = 0;
    for (const auto& p : image.rgb) n += std::abs(p[0] - r) + std::abs(p[1] - g) + std::abs(p[2] - b) < 24;
    return n;
  };
  EXPECT_GT(near(0x1f, 0x77, 0xb4), 150u) << "train loss line";
  EXPECT_GT(near(0xff, 0x7f, 0x0e), 40u) << "val loss dots";
  EXPECT_GT(near(0x94, 0x67, 0xbd), 150u) << "learning-rate line";
  EXPECT_GT(near(0x2c, 0xa0, 0x2c), 150u) << "throughput line";
#endif
}

}  // namespace
}  // namespace distill::eval
