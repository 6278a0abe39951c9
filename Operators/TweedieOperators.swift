// Forward operators (DESIGN §3): y = A(x) + n, against the `ForwardOperator` and
// `NoiseModel` protocols in TweedieCore. One folder per kind of operator:
//   PSF/         PointSpreadFunction (validation, normalisation), analytic
//                Gaussian / Moffat / Airy and elliptical Moffat profiles (the
//                latter fitted to stars by TweedieAnalysis's StarPSF/),
//                PSFConvolution (FFT);
//   Resampling/  FlatLambdaCDM (D_A by GSL quadrature), AreaOverlapResampling
//                (flux-conserving, separable, exact adjoint), RedshiftResampling
//                and PixelScaleResampling (paper 003 §2, Fig. 1: f_{z,p});
//   Bands/       BandSelection (observe a subset of the prior's bands);
//   Noise/       DiagonalGaussianNoise (scalar σ, variance / inverse-variance
//                maps, masks) and robust σ estimation;
//   OperatorChecks.swift: dot-product test and operator norm, for `tweedie operator check`.
import TweedieCore
