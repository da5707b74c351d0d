// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Digits",
    dependencies: [
        // An app would name Kiln by URL; the example uses the checkout it lives in.
        .package(name: "kiln", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "Digits",
            dependencies: [.product(name: "Kiln", package: "kiln")],
            exclude: ["digits.safetensors", "calibration.npy"],
            resources: [.copy("Data")],
            plugins: [.plugin(name: "KilnPlugin", package: "kiln")])
    ],
    swiftLanguageModes: [.v6]
)
