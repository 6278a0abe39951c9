// preview.png of a posterior run: observation | truth (when known) | mean |
// std | variance ratio | residual, one band (the observation's middle band; the prior band of the
// same name), as a `PanelFigure` (titles, colour bars, a scale bar, one sky
// scale for every panel).
//
// Conventions:
// - pixel scales: the observation covers the prior's field (a resampling keeps
//   the whole field; other operators keep the grid), so p_obs / p_prior =
//   n_prior / n_obs along x. The unit is arcsec when a header gives one
//   (its celestial WCS through wcslib, else PIXSCALE; the prior grid's
//   header first), else the observation's arcsec per pixel given by the
//   caller (an operator spec's resample step), else pixels of the prior grid;
// - stretch: asinh set by the observation's noise (sky = sigma-clipped
//   median, σ = its robust σ; `StretchMapping.noiseAsinh`), the same mapping
//   for the observation, the truth and the mean (the mean's values in prior pixels are
//   the observation's times the pixel-area ratio (p_prior / p_obs)², as the
//   resampling conserves flux), high = the brighter of the two peaks. A
//   visibility observation's dirty image (Jy/beam) is not in the mean's units:
//   then each has its own noise-based asinh;
// - std: asinh from 0 to its maximum with the mean's softening; variance ratio: log₁₀ colours over
//   10⁻³ … 10 with 1 marked; residual (whitened, image observations): ±5 σ.
import Foundation
import TweedieCore

public enum PosteriorPreview {
    static func plane(_ b: ImageBatch, _ c: Int) -> [Float] {
        let n = b.shape.planeCount
        return Array(b.data[(c * n)..<((c + 1) * n)])
    }

    /// The figure for `p` against `observation` (an image on the observation grid; for visibilities
    /// their dirty image, `observationIsImageData` false).
    public static func figure(_ p: PosteriorProducts, observation: ImageBatch, priorHeader: FITSHeader?,
                              observationHeader: FITSHeader?, observationIsImageData: Bool = true, truth: ImageBatch? = nil,
                              observationPixelArcsec: Double? = nil) throws -> PanelFigure {
        try figure(mean: p.mean, std: p.std, varianceRatio: p.varianceRatio, residual: p.residual, observation: observation,
                   priorHeader: priorHeader, observationHeader: observationHeader,
                   observationIsImageData: observationIsImageData, truth: truth, observationPixelArcsec: observationPixelArcsec)
    }

    /// The figure from the products' images (mean, std, variance ratio on the prior grid; the whitened
    /// residual on the observation grid).
    public static func figure(mean meanBatch: ImageBatch, std stdBatch: ImageBatch, varianceRatio: ImageBatch?,
                              residual: ImageBatch, observation: ImageBatch, priorHeader: FITSHeader?,
                              observationHeader: FITSHeader?, observationIsImageData: Bool = true,
                              truth: ImageBatch? = nil, observationPixelArcsec: Double? = nil) throws -> PanelFigure {
        let os = observation.shape, ps = meanBatch.shape
        let oc = os.channels / 2
        let name = oc < observation.bands.count ? observation.bands[oc] : nil
        let pc = name.flatMap { meanBatch.bands.firstIndex(of: $0) } ?? min(oc, ps.channels - 1)
        let band = name.map { " (\($0))" } ?? ""
        // Pixel scales (prior pixels per observation pixel from the grids' widths).
        let ratio = Double(ps.width) / Double(os.width)
        var unit = "px", pPrior = 1.0
        if let a = PanelFigure.arcsecPerPixel(priorHeader) { unit = "″"; pPrior = a }
        else if let a = PanelFigure.arcsecPerPixel(observationHeader) { unit = "″"; pPrior = a / ratio }
        else if let a = observationPixelArcsec, a.isFinite, a > 0 { unit = "″"; pPrior = a / ratio }
        let pObs = pPrior * ratio

        let obs = plane(observation, oc), mean = plane(meanBatch, pc)
        func noiseMapping(_ v: [Float]) -> (map: StretchMapping, sky: Double, sigma: Double) {
            let clipped = ImageStatistics.sigmaClipped(v)
            let stats = ImageStatistics(v)
            let sky = clipped?.median ?? stats.median, sigma = clipped?.robustSigma ?? 0
            return (StretchMapping.noiseAsinh(sky: sky, sigma: sigma, high: stats.max), sky, sigma)
        }
        let (obsMap, sky, sigma) = noiseMapping(obs)
        let area = 1 / (ratio * ratio)  // (p_prior / p_obs)²: observation units → prior-pixel units
        var obsScale = ColourScale.grey(obsMap), meanScale: ColourScale
        var meanCaption = "asinh, softening the noise σ"
        if observationIsImageData {
            let truthMax = truth.map { ImageStatistics(plane($0, pc)).max } ?? -.infinity
            let high = max(obsMap.high, max(ImageStatistics(mean).max, truthMax) / area)
            let shared = StretchMapping.noiseAsinh(sky: sky, sigma: sigma, high: high)
            obsScale = .grey(shared)
            meanScale = .grey(StretchMapping.noiseAsinh(sky: sky, sigma: sigma, high: high, factor: area))
            if area != 1 { meanCaption += String(format: " × %.3g (pixel area)", area) }
        } else {
            meanScale = .grey(noiseMapping(mean).map)
            meanCaption = "asinh, softening its own noise σ"
        }
        var panels = [
            try FigurePanel(title: "observation\(band)", values: obs, width: os.width, height: os.height, scale: obsScale,
                            pixelScale: pObs, caption: "asinh, softening the noise σ = \(ColourScale.format(sigma))"),
        ]
        if let t = truth, t.shape == ps {
            panels.append(try FigurePanel(title: "truth", values: plane(t, pc), width: ps.width, height: ps.height,
                                          scale: meanScale, pixelScale: pPrior, caption: meanCaption))
        }
        panels.append(try FigurePanel(title: "posterior mean", values: mean, width: ps.width, height: ps.height,
                                      scale: meanScale, pixelScale: pPrior, caption: meanCaption))
        let std = plane(stdBatch, pc)
        let stdMax = ImageStatistics(std).max
        // The std in the mean's units: asinh from 0 with the mean's softening (σ_obs in prior-pixel units),
        // so a std near the observation's noise level shows, not only the largest ones.
        let stdSoft: Double
        if case .grey(let m) = meanScale, m.softening > 0 { stdSoft = m.softening } else { stdSoft = stdMax / 10 }
        panels.append(try FigurePanel(title: "posterior std", values: std, width: ps.width, height: ps.height,
                                      scale: .grey(StretchMapping(stretch: .asinh, low: 0, high: stdMax.isFinite ? stdMax : 0,
                                                                  softening: stdSoft)),
                                      pixelScale: pPrior, caption: "asinh from 0, the mean's softening"))
        if let r = varianceRatio {
            panels.append(try FigurePanel(title: "variance ratio", values: plane(r, pc), width: ps.width, height: ps.height,
                                          scale: .logRatio(low: 1e-3, high: 10), pixelScale: pPrior,
                                          caption: "posterior / prior variance, log scale"))
        }
        if observationIsImageData, residual.shape == os {
            panels.append(try FigurePanel(title: "residual", values: plane(residual, oc), width: os.width, height: os.height,
                                          scale: .symmetric(limit: 5), pixelScale: pObs, caption: "whitened, (y − A·mean)/σ"))
        }
        return PanelFigure(panels: panels, unit: unit)
    }
}
