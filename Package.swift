// swift-tools-version: 6.0
// Tweedie — Bayesian deconvolution of astronomical images with diffusion priors.
//
// Dependency direction (DESIGN §1): C bridges → TweedieCore → {TweedieOperators,
// TweediePriors} → TweedieSampling → TweedieStudies → tweedie (CLI); {TweedieCore,
// TweedieOperators} → TweedieAnalysis → {TweedieStudies, tweedie} (source extraction,
// metrics, CLEAN, the star PSF). Never the other way.
import PackageDescription

let package = Package(
    name: "Tweedie",
    products: [
        .executable(name: "tweedie", targets: ["tweedie"]),
        .library(name: "TweedieCore", targets: ["TweedieCore"]),
        .library(name: "TweedieOperators", targets: ["TweedieOperators"]),
        .library(name: "TweediePriors", targets: ["TweediePriors"]),
        .library(name: "TweedieSampling", targets: ["TweedieSampling"]),
        .library(name: "TweedieAnalysis", targets: ["TweedieAnalysis"]),
        .library(name: "TweedieStudies", targets: ["TweedieStudies"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Thin C bridges (system libraries installed by scripts/setup.sh).
        .systemLibrary(name: "CFFTW", path: "Sources/CFFTW"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CFITSIO", path: "Sources/CFITSIO"),
        .systemLibrary(name: "CGSL", path: "Sources/CGSL"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CWCSLIB", path: "Sources/CWCSLIB"),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo"),

        // Core: image batches, FITS, FFT, RNG, PNG and labelled figures (cairo), the protocols operators and priors implement.
        .target(
            name: "TweedieCore",
            dependencies: ["CFFTW", "COpenBLAS", "CFITSIO", "CGSL", "CPNG", "CWCSLIB", "CCairo"],
            path: "Sources/TweedieCore"
        ),
        // Forward operators: PSF convolution, resampling, UV sampling, noise models.
        .target(
            name: "TweedieOperators",
            dependencies: ["TweedieCore", "CFFTW", "CGSL", "CFITSIO"],
            path: "Operators"
        ),
        // Score priors: the U-Net, checkpoint loading, schedules, analytic priors.
        .target(
            name: "TweediePriors",
            dependencies: ["TweedieCore", "COpenBLAS", "CFFTW", "CGSL", "CZlib"],
            path: "Priors",
            exclude: ["Models", "training", "UNet/README.md"]
        ),
        // Posterior samplers, the posterior pipeline, statistics, metrics, exact oracles.
        .target(
            name: "TweedieSampling",
            dependencies: ["TweedieCore", "TweedieOperators", "TweediePriors", "CGSL"],
            path: "Sources/TweedieSampling"
        ),
        // Image analysis: source extraction, catalogue matching, detect-aggregate, Högbom CLEAN,
        // the PSF estimated from an image's stars (elliptical Moffat fits).
        .target(
            name: "TweedieAnalysis",
            dependencies: ["TweedieCore", "TweedieOperators", "CGSL"],
            path: "Sources/TweedieAnalysis"
        ),
        // Study and calibration runners: scripted posterior studies (simulated cases, sampled and
        // scored), exact-oracle calibration tables, simulation-based calibration; spec files (YAML).
        .target(
            name: "TweedieStudies",
            dependencies: ["TweedieCore", "TweedieOperators", "TweediePriors", "TweedieSampling", "TweedieAnalysis", "CGSL",
                           .product(name: "Yams", package: "Yams")],
            path: "Sources/TweedieStudies"
        ),
        // The command-line tool.
        .executableTarget(
            name: "tweedie",
            dependencies: [
                "TweedieCore", "TweedieOperators", "TweediePriors", "TweedieSampling", "TweedieAnalysis",
                "TweedieStudies",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/tweedie"
        ),

        // Test-only references shared by the test targets (dense linear algebra, a seeded generator).
        .target(name: "TweedieTestSupport", dependencies: ["TweedieCore"], path: "Tests/TweedieTestSupport"),

        .testTarget(name: "TweedieCoreTests", dependencies: ["TweedieCore", "TweedieTestSupport"],
                    path: "Tests/TweedieCoreTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "TweedieOperatorsTests", dependencies: ["TweedieCore", "TweedieOperators", "TweedieTestSupport"],
                    path: "Tests/TweedieOperatorsTests",
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TweediePriorsTests", dependencies: ["TweedieCore", "TweediePriors", "TweedieTestSupport"],
                    path: "Tests/TweediePriorsTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "TweedieSamplingTests",
                    dependencies: ["TweedieCore", "TweedieOperators", "TweediePriors", "TweedieSampling", "TweedieStudies",
                                   "TweedieTestSupport"],
                    path: "Tests/TweedieSamplingTests"),
        .testTarget(name: "TweedieAnalysisTests",
                    dependencies: ["TweedieCore", "TweedieOperators", "TweedieAnalysis", "TweedieTestSupport"],
                    path: "Tests/TweedieAnalysisTests"),
        .testTarget(name: "TweedieCLITests", dependencies: ["tweedie", "TweedieCore", "TweedieOperators", "TweediePriors"], path: "Tests/TweedieCLITests"),
    ],
    swiftLanguageModes: [.v6]
)
