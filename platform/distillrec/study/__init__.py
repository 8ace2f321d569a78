"""Studies: paired multi-seed comparisons of distillation variants, with confidence intervals."""
