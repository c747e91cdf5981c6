import platform
import sys

print("Hello from berth!")
print(f"Python {platform.python_version()} on {platform.system()}", file=sys.stderr)
