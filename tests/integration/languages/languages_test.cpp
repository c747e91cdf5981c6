// Every shipped language end to end on the jail runtime: its image, its compile step where it has
// one, its run command, environment and default limits (images/languages/*.toml). One test per
// language, each with its own stack; the test's jobs are submitted together and checked together.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "images/language.hpp"
#include "tests/integration/pipeline/stack.hpp"

namespace berth::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The programs of one language. `compile_error` is empty for interpreted languages.
struct LanguageCase {
  std::string name;
  std::string hello;           // prints exactly "Hello, world!\n"
  std::string echo;            // copies stdin to stdout line by line
  std::string exit3;           // prints "about to fail\n", then exits with code 3
  std::string compile_error;   // does not compile
  std::string compile_needle;  // what the compiler's message must mention
};

// Several lines, an empty one, and non-ASCII UTF-8 of two, three and four bytes per character.
const std::string kStdin =
    "first line\n"
    "Grüße, naïve café — ½ € ✓\n"
    "\n"
    "日本語のテキスト, emoji 🚀🦀\n"
    "last line\n";

const std::vector<LanguageCase> kCases = {
    {"c",
     R"(#include <stdio.h>
int main(void) {
  puts("Hello, world!");
  return 0;
}
)",
     R"(#include <stdio.h>
int main(void) {
  char buf[4096];
  while (fgets(buf, sizeof buf, stdin)) fputs(buf, stdout);
  return 0;
}
)",
     R"(#include <stdio.h>
#include <stdlib.h>
int main(void) {
  printf("about to fail\n");
  exit(3);
}
)",
     R"(int main(void) { return undefined_function(); }
)",
     "undefined_function"},
    {"cpp",
     R"(#include <iostream>
int main() {
  std::cout << "Hello, world!" << std::endl;
}
)",
     R"(#include <iostream>
#include <string>
int main() {
  std::string line;
  while (std::getline(std::cin, line)) std::cout << line << '\n';
}
)",
     R"(#include <iostream>
int main() {
  std::cout << "about to fail\n";
  return 3;
}
)",
     R"(#include <vector>
int main() { std::vector<int> v; undefined_function(v); }
)",
     "undefined_function"},
    {"javascript", R"(console.log("Hello, world!");
)",
     R"(const rl = require("readline").createInterface({ input: process.stdin });
rl.on("line", (line) => console.log(line));
)",
     R"(console.log("about to fail");
process.exit(3);
)",
     "", ""},
    {"ruby", R"(puts "Hello, world!"
)",
     R"(STDIN.each_line { |line| print line }
)",
     R"(puts "about to fail"
exit 3
)",
     "", ""},
    {"perl", R"(print "Hello, world!\n";
)",
     R"(while (my $line = <STDIN>) { print $line; }
)",
     R"(print "about to fail\n";
exit 3;
)",
     "", ""},
    {"lua", R"(print("Hello, world!")
)",
     R"(for line in io.lines() do print(line) end
)",
     R"(print("about to fail")
os.exit(3)
)",
     "", ""},
    {"go",
     R"(package main

import "fmt"

func main() {
	fmt.Println("Hello, world!")
}
)",
     R"(package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	s := bufio.NewScanner(os.Stdin)
	for s.Scan() {
		fmt.Println(s.Text())
	}
}
)",
     R"(package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("about to fail")
	os.Exit(3)
}
)",
     R"(package main

func main() {
	undefinedFunction()
}
)",
     "undefinedFunction"},
    {"rust", R"(fn main() {
    println!("Hello, world!");
}
)",
     R"(use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines() {
        println!("{}", line.unwrap());
    }
}
)",
     R"(fn main() {
    println!("about to fail");
    std::process::exit(3);
}
)",
     R"(fn main() {
    undefined_function();
}
)",
     "undefined_function"},
    {"java", R"(public class Main {
    public static void main(String[] args) {
        System.out.println("Hello, world!");
    }
}
)",
     R"(import java.io.BufferedReader;
import java.io.InputStreamReader;

public class Main {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null;) System.out.println(line);
    }
}
)",
     R"(public class Main {
    public static void main(String[] args) {
        System.out.println("about to fail");
        System.exit(3);
    }
}
)",
     R"(public class Main {
    public static void main(String[] args) {
        undefinedFunction();
    }
}
)",
     "undefinedFunction"},
    {"php", R"(<?php
echo "Hello, world!\n";
)",
     R"(<?php
while (($line = fgets(STDIN)) !== false) echo $line;
)",
     R"(<?php
echo "about to fail\n";
exit(3);
)",
     "", ""},
    {"python", R"(print("Hello, world!")
)",
     R"(import sys
for line in sys.stdin:
    sys.stdout.write(line)
)",
     R"(import sys
print("about to fail")
sys.exit(3)
)",
     "", ""},
    {"bash", R"(echo "Hello, world!"
)",
     R"(while IFS= read -r line; do printf '%s\n' "$line"; done
)",
     R"(echo "about to fail"
exit 3
)",
     "", ""},
};

// The first run of a language may build its image (minutes); later runs take seconds.
constexpr auto kJobTimeout = 600s;

const LanguageCase& case_named(const std::string& name) {
  for (auto& c : kCases)
    if (c.name == name) return c;
  throw std::invalid_argument("no test programs for language " + name);
}

class Languages : public StackSuite {
 protected:
  void RunEndToEnd(const LanguageCase& c);
};

void Languages::RunEndToEnd(const LanguageCase& c) {
  std::map<std::string, json> jobs = {{"hello", job(c.name, c.hello)},
                                      {"echo", job(c.name, c.echo)},
                                      {"exit3", job(c.name, c.exit3)}};
  jobs["echo"]["stdin"] = kStdin;
  if (!c.compile_error.empty()) jobs["compile_error"] = job(c.name, c.compile_error);

  // All submitted first, so they run side by side on the worker's slots.
  std::map<std::string, std::string> ids;
  for (auto& [what, j] : jobs) ids[what] = stack_->submit(j);
  std::map<std::string, json> recs;
  for (auto& [what, id] : ids) recs[what] = stack_->wait_finished(id, kJobTimeout);

  for (auto& [what, rec] : recs) {
    SCOPED_TRACE(c.name + " " + what + " job, record:\n" + rec.dump(2));
    ASSERT_EQ(rec.value("state", ""), "finished");
    EXPECT_EQ(rec["attempts"], 1);
  }
  const json& hello = recs["hello"]["result"];
  {
    SCOPED_TRACE(c.name + " hello, record:\n" + recs["hello"].dump(2));
    EXPECT_EQ(hello["verdict"], "ok");
    EXPECT_EQ(hello["exit_code"], 0);
    EXPECT_EQ(hello["stdout"], "Hello, world!\n");
    EXPECT_EQ(hello["stderr"], "");
    std::vector<std::string> nodes;
    for (auto& n : recs["hello"]["plan"]) {
      nodes.push_back(n["name"]);
      EXPECT_EQ(n["status"], "done") << n.dump();
    }
    std::vector<std::string> expected = {"image", "ip", "boot"};
    if (!c.compile_error.empty()) expected.push_back("compile");
    expected.push_back("run");
    EXPECT_EQ(nodes, expected);
  }
  {
    const json& r = recs["echo"]["result"];
    SCOPED_TRACE(c.name + " echo, record:\n" + recs["echo"].dump(2));
    EXPECT_EQ(r["verdict"], "ok");
    EXPECT_EQ(r["stdout"], kStdin);
    EXPECT_EQ(r["stderr"], "");
  }
  {
    const json& r = recs["exit3"]["result"];
    SCOPED_TRACE(c.name + " exit3, record:\n" + recs["exit3"].dump(2));
    EXPECT_EQ(r["verdict"], "runtime_error");
    EXPECT_EQ(r["exit_code"], 3);
    EXPECT_EQ(r["stdout"], "about to fail\n");
  }
  if (!c.compile_error.empty()) {
    const json& rec = recs["compile_error"];
    const json& r = rec["result"];
    SCOPED_TRACE(c.name + " compile_error, record:\n" + rec.dump(2));
    EXPECT_EQ(r["verdict"], "compile_error");
    EXPECT_NE(r["compile_output"].get<std::string>().find(c.compile_needle), std::string::npos);
    EXPECT_EQ(r["stdout"], "");
    for (auto& n : rec["plan"]) {
      if (n["name"] == "compile") {
        EXPECT_EQ(n["status"], "failed") << n.dump();
      }
      if (n["name"] == "run") {
        EXPECT_EQ(n["status"], "skipped") << n.dump();
      }
    }
  }
}

// One test per language: each runs in its own process with its own stack.
TEST_F(Languages, c) {
  RunEndToEnd(case_named("c"));
}
TEST_F(Languages, cpp) {
  RunEndToEnd(case_named("cpp"));
}
TEST_F(Languages, javascript) {
  RunEndToEnd(case_named("javascript"));
}
TEST_F(Languages, ruby) {
  RunEndToEnd(case_named("ruby"));
}
TEST_F(Languages, perl) {
  RunEndToEnd(case_named("perl"));
}
TEST_F(Languages, lua) {
  RunEndToEnd(case_named("lua"));
}
TEST_F(Languages, go) {
  RunEndToEnd(case_named("go"));
}
TEST_F(Languages, rust) {
  RunEndToEnd(case_named("rust"));
}
TEST_F(Languages, java) {
  RunEndToEnd(case_named("java"));
}
TEST_F(Languages, php) {
  RunEndToEnd(case_named("php"));
}
TEST_F(Languages, python) {
  RunEndToEnd(case_named("python"));
}
TEST_F(Languages, bash) {
  RunEndToEnd(case_named("bash"));
}

// The image carries Python's whole standard library, not python3-minimal's part of it: each of
// these imports failed with ModuleNotFoundError on an image built from python3-minimal.
TEST_F(Languages, python_standard_library) {
  const std::string program = R"py(import asyncio, ctypes, decimal, json, sqlite3, unittest
import urllib.parse, urllib.request, xml.etree.ElementTree as ET, zoneinfo, datetime
db = sqlite3.connect(":memory:")
db.execute("create table t (x)")
db.execute("insert into t values (41)")
print(json.dumps({"sum": db.execute("select x + 1 from t").fetchone()[0]}))
print(decimal.Decimal("0.1") + decimal.Decimal("0.2"))
print(asyncio.run(asyncio.sleep(0, result="async")))
print(ctypes.sizeof(ctypes.c_int32))
print(ET.fromstring("<a><b>xml</b></a>").find("b").text)
print(urllib.parse.urlsplit("http://h/p?q=1").query)
tz = zoneinfo.ZoneInfo("Europe/Berlin")
print(datetime.datetime(2026, 7, 1, 12, tzinfo=tz).utcoffset())
print(unittest.TestCase.__name__)
)py";
  auto rec = stack_->wait_finished(stack_->submit(job("python", program)), kJobTimeout);
  SCOPED_TRACE(rec.dump(2));
  EXPECT_EQ(rec["result"]["verdict"], "ok");
  EXPECT_EQ(rec["result"]["stdout"], "{\"sum\": 42}\n0.3\nasync\n4\nxml\nq=1\n2:00:00\nTestCase\n");
  EXPECT_EQ(rec["result"]["stderr"], "");
}

// The table and images/languages/ name the same languages, and the compiled ones are exactly
// those with a compile-error program. Needs no stack.
TEST(LanguageTable, CoversEveryShippedLanguage) {
  auto catalog = images::LanguageCatalog::load(images::default_languages_dir());
  ASSERT_TRUE(catalog) << catalog.error();
  std::map<std::string, bool> shipped, tested;
  for (auto& [name, lang] : catalog->all()) shipped[name] = !lang.compile.empty();
  for (auto& c : kCases) tested[c.name] = !c.compile_error.empty();
  EXPECT_EQ(tested, shipped);
}

}  // namespace
}  // namespace berth::test
