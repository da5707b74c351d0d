// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "kiln",
    platforms: [.macOS(.v13)],
    products: [
        // What apps depend on: the DSL for model files and the runtime for generated code.
        .library(name: "Kiln", targets: ["Kiln", "KilnRuntime"]),
        .library(name: "KilnRuntime", targets: ["KilnRuntime"]),
        .library(name: "KilnCompiler", targets: ["KilnCompiler"]),
        .executable(name: "kiln", targets: ["kiln"]),
        .plugin(name: "KilnPlugin", targets: ["KilnPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation` for the DocC catalogs; nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The graph IR every other module speaks.
        .target(name: "KilnIR"),
        // The model-description DSL apps write; builds a KilnIR graph.
        .target(name: "Kiln", dependencies: ["KilnIR"]),
        // Plain, obviously-correct interpreter: the numeric oracle.
        .target(name: "KilnReference", dependencies: ["KilnIR"]),
        // Weight files (safetensors, npy, npz) and the TensorFlow Lite and ONNX importers.
        .target(
            name: "KilnImport",
            dependencies: ["KilnIR", "KilnRuntime"]),
        // Named graph-to-graph passes and the pipeline that runs them.
        .target(name: "KilnPasses", dependencies: ["KilnIR", "KilnReference"]),
        // LLVM IR emission through the LLVM C API (bound at run time with dlopen).
        .target(name: "KilnCodegen", dependencies: ["KilnIR"]),
        // Loads compiled artifacts and runs them, and writes files safely; no compiler, no LLVM.
        .target(name: "KilnRuntime"),
        // Build-time side of the delegates: placement, partitions and the OpenCL delegate's kernels.
        .target(name: "KilnDelegates", dependencies: ["KilnIR", "KilnRuntime"]),
        // The driver: trace or import, passes, codegen, link, artifact.
        .target(
            name: "KilnCompiler",
            dependencies: [
                "Kiln", "KilnIR", "KilnImport", "KilnPasses", "KilnReference", "KilnCodegen", "KilnDelegates",
                "KilnRuntime",
            ]),
        // Command-line front end.
        .executableTarget(
            name: "kiln",
            dependencies: [
                "Kiln", "KilnCodegen", "KilnCompiler", "KilnRuntime", "KilnImport", "KilnIR",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // KilnPlugin's tool: one model file to artifacts and Swift API. Only the compiler, so that
        // SwiftPM, which builds a plugin's tool before the app, builds no command-line parser.
        .executableTarget(name: "kiln-build", dependencies: ["KilnCompiler"]),
        // Structure-aware fuzz targets: the readers, validator, importer and passes on edited models and files.
        .target(name: "KilnFuzzing", dependencies: ["Kiln", "KilnCompiler", "KilnImport", "KilnIR"]),
        // Runs the fuzz targets, under libFuzzer (scripts/fuzz.sh) or on seeded random inputs.
        .executableTarget(name: "kiln-fuzz", dependencies: ["KilnFuzzing", "KilnImport"]),
        // Build tool plugin: compiles an app's model files with `kiln-build`.
        .plugin(name: "KilnPlugin", capability: .buildTool(), dependencies: ["kiln-build"]),
        // Each target lists exactly the modules its files import.
        .testTarget(name: "KilnIRTests", dependencies: ["KilnIR"]),
        .testTarget(name: "KilnImportTests", dependencies: ["KilnImport", "KilnIR"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnCodegenTests", dependencies: ["KilnCodegen", "KilnIR"]),
        .testTarget(name: "KilnRuntimeTests", dependencies: ["KilnRuntime"]),
        // Counts a thread's heap allocations by interposing malloc in the test executable.
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(
            name: "KilnTests",
            dependencies: [
                "Kiln", "KilnIR", "KilnReference", "KilnPasses", "KilnCodegen", "KilnRuntime", "KilnCompiler", "KilnImport",
                "KilnDelegates", "KilnFuzzing", "AllocationCounter",
            ],
            // Model files the tests compile with the Kiln compiler, not part of the test target.
            exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
