"""Tweedie from Python: Bayesian deconvolution of astronomical images with diffusion priors.

`sample`, `calibrate` and `study` run the `tweedie` CLI (found by `find_binary`) with keyword
arguments as options and return its products as astropy objects; `studies` holds the helpers of
the study notebooks (scaled-down specs, table grouping, case figures)."""
from .api import calibrate, sample, study
from .binary import BinaryNotFoundError, TweedieCLIError, find_binary, run
from .results import CalibrationResult, SampleResult, StudyResult

__all__ = ["sample", "calibrate", "study", "find_binary", "run", "TweedieCLIError", "BinaryNotFoundError",
           "SampleResult", "StudyResult", "CalibrationResult"]
__version__ = "0.1.0"
