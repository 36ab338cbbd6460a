#!/usr/bin/env bash
# Packs every FastRmp package once into DIR (default artifacts/package): the libraries FastRmp.Interop,
# FastRmp.Engine and FastRmp.Export (each with a .snupkg of symbols), and the tool: the Native AOT 'fastrmp.linux-x64' (needs a
# linux-x64 machine with clang or gcc), the framework-dependent 'fastrmp.any' and the pointer package 'fastrmp'.
# Versions come from git (MinVer: 0.0.0-alpha.0.HEIGHT until the first v* tag), so each commit packs a new version.
# Install the tool with: dotnet tool install -g fastrmp --add-source DIR --prerelease
# Each project is compiled once per runtime and each package packed once (before: the first 'dotnet pack' of the
# Cli also built and packed a JIT linux-x64 package and the 'any' one, which the next two lines built again).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/package}
cli=src/Cli/FastRmp.Cli.csproj
# The libraries: pack Export (builds Engine and Interop as its references), then Engine and Interop from that build.
dotnet pack src/Export/FastRmp.Export.csproj -c Release -o "$out"
dotnet pack src/Engine/FastRmp.Engine.csproj -c Release --no-build -o "$out"
dotnet pack src/Interop/FastRmp.Interop.csproj -c Release --no-build -o "$out"
# The tool: one pack per runtime (the project makes linux-x64 Native AOT), then the pointer package, which holds
# no build output (DotnetToolSettings.xml names the runtimes), from the restore the two packs made.
dotnet pack "$cli" -c Release -r linux-x64 -o "$out"
dotnet pack "$cli" -c Release -r any -o "$out"
dotnet pack "$cli" -c Release --no-build -p:ToolPointerPackage=true -o "$out"
ls -1 "$out"/*.nupkg "$out"/*.snupkg
