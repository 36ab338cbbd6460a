#!/usr/bin/env bash
# Makes the fastrmp tool packages into DIR (default artifacts/package): the pointer package 'fastrmp', the Native AOT
# 'fastrmp.linux-x64' (needs a linux-x64 machine with clang or gcc) and the framework-dependent 'fastrmp.any'.
# Install with: dotnet tool install -g fastrmp --add-source DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/package}
project=src/Cli/FastRmp.Cli.csproj
dotnet pack "$project" -c Release -o "$out"
dotnet pack "$project" -c Release -r linux-x64 -o "$out"
dotnet pack "$project" -c Release -r any -o "$out"
ls -1 "$out"/fastrmp*.nupkg
