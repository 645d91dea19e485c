"""base-tf: Bayesian meta-Architecture SEarch (BASE) in TensorFlow and Keras."""
