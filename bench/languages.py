#!/usr/bin/python3
"""Per-language figures: image sizes and build time, and hello-world latency end to end.

Usage: bench/languages.py [--gateway URL] [--runs N] [--berth-images PATH] [LANG...]

Needs a running stack (deploy/stack.sh start) whose images are built (berth-images build).
For each language: the unpacked rootfs and the zstd initramfs sizes and the rootfs build time
(from `berth-images list --json`), then N hello-world jobs one after another with ?wait=true:
the median latency a client sees (submit to result) and the median compile and run steps.
"""
import argparse
import json
import statistics
import subprocess

from berth_client import node_ms, submit

HELLO = {
    "bash": "echo Hello",
    "python": 'print("Hello")',
    "c": '#include <stdio.h>\nint main(void) { puts("Hello"); return 0; }\n',
    "cpp": '#include <iostream>\nint main() { std::cout << "Hello" << std::endl; }\n',
    "go": 'package main\nimport "fmt"\nfunc main() { fmt.Println("Hello") }\n',
    "rust": 'fn main() { println!("Hello"); }\n',
    "java": 'public class Main { public static void main(String[] a) { System.out.println("Hello"); } }\n',
    "javascript": 'console.log("Hello");\n',
    "ruby": 'puts "Hello"\n',
    "perl": 'print "Hello\\n";\n',
    "lua": 'print("Hello")\n',
    "php": '<?php echo "Hello\\n";\n',
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway", default="http://127.0.0.1:8080")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--berth-images", default="build/release/images/berth-images")
    ap.add_argument("languages", nargs="*")
    args = ap.parse_args()
    images = {i["language"]: i for i in
              json.loads(subprocess.check_output([args.berth_images, "list", "--json"]))}
    langs = args.languages or sorted(HELLO)
    print("| language | rootfs | initramfs (zstd) | rootfs build | hello p50 | compile p50 | run p50 | ok |")
    print("|---|---|---|---|---|---|---|---|")
    for lang in langs:
        img = images.get(lang, {})
        lat, comp, run, ok = [], [], [], 0
        for _ in range(args.runs):
            secs, rec = submit(args.gateway, lang, HELLO[lang])
            res = rec.get("result", {})
            if res.get("verdict") == "ok" and res.get("stdout", "").strip() == "Hello":
                ok += 1
                lat.append(secs * 1000)
                c, r = node_ms(rec, "compile"), node_ms(rec, "run")
                if c is not None:
                    comp.append(c)
                if r is not None:
                    run.append(r)
        med = lambda v: f"{statistics.median(v):.0f} ms" if v else "-"
        mib = lambda k: f"{img[k] / 2**20:.0f} MiB" if k in img else "-"
        build = f"{img['build_seconds']:.0f} s" if "build_seconds" in img else "-"
        print(f"| {lang} | {mib('rootfs_bytes')} | {mib('initramfs_bytes')} | {build} | "
              f"{med(lat)} | {med(comp)} | {med(run)} | {ok}/{args.runs} |", flush=True)


if __name__ == "__main__":
    main()
