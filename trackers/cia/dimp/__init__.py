"""DiMP parts (Bhat et al., ICCV 2019): classification features, model initializer, model optimizer
(steepest descent with learned step and distance-binned label/mask/weight predictors), IoU-Net
(ATOM) and its probabilistic KL variant, and the DiMP losses."""
