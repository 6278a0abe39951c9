// summary.json's number conventions (PosteriorSummary.swift, docs/summary.schema.json): a
// non-finite value is written as JSON null, never as a string, and reads back as NaN (FiniteOrNull)
// or nil (OptionalFiniteOrNull); an absent optional score reads as nil; a unit that is not
// declared is written as an explicit null.
import Foundation
import Testing
import TweedieCore
@testable import TweedieSampling

struct PosteriorSummaryCodingTests {
    @Test func nonFiniteNumbersAreNullAndReadBack() throws {
        let scores = [ObservationBandScores(name: "r", usableValues: 0, reducedChiSquaredOfMean: .nan)]
        let band = PriorBandScores(name: "g", observed: false, apertureVarianceRatio: .infinity, medianVarianceRatio: 0.5)
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let text = String(decoding: try enc.encode(scores), as: UTF8.self) + String(decoding: try enc.encode(band), as: UTF8.self)
        #expect(text.contains("\"reducedChiSquaredOfMean\":null") && text.contains("\"apertureVarianceRatio\":null"), "\(text)")
        #expect(!text.contains("nan") && !text.contains("inf"), "\(text)")
        let back = try JSONDecoder().decode([ObservationBandScores].self, from: try enc.encode(scores))
        #expect(back[0].reducedChiSquaredOfMean.isNaN && back[0].usableValues == 0)
        let b = try JSONDecoder().decode(PriorBandScores.self, from: try enc.encode(band))
        #expect(b.apertureVarianceRatio == nil && b.medianVarianceRatio == 0.5)
        // A key written by no version (a summary before the field) reads as nil.
        let old = try JSONDecoder().decode(PriorBandScores.self, from: Data(#"{"name": "i", "observed": true}"#.utf8))
        #expect(old.apertureVarianceRatio == nil && old.medianVarianceRatio == nil && old.truth == nil)
    }

    @Test func numbersAreNumbersAndUnitsSitBesideThem() throws {
        let noise = NoiseDescription(source: "given", model: "gaussian", sigma: [64.9991], noiseRMS: nil,
                                     background: BackgroundDescription(method: .sigmaClippedMedian, values: [12.5]),
                                     maskedValues: 60, usableValues: 4036, unit: nil)
        let obs = ObservationDescription(path: "obs.fits", hdu: 1, shape: ImageShape(channels: 1, height: 64, width: 64),
                                         bands: ["r"], unit: nil)
        let o = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(noise)) as! [String: Any]
        #expect(o["sigma"] as? [Double] == [64.9991] && o["maskedValues"] as? Int == 60)
        #expect((o["background"] as? [String: Any])?["values"] as? [Double] == [12.5])
        let units = try #require(o["units"] as? [String: Any])
        #expect(units["sigma"] is NSNull && units["background"] is NSNull && units["noiseRMS"] == nil)
        let p = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(obs)) as! [String: Any]
        #expect(p["unit"] is NSNull && p["hdu"] as? Int == 1 && p["width"] as? Int == 64)
    }

    @Test func squaredUnits() {
        #expect(squaredUnit("adu") == "adu^2" && squaredUnit("Jy/beam") == "(Jy/beam)^2" && squaredUnit(nil) == nil)
    }
}
