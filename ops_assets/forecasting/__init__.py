"""Forecasting: daily prices on the NYSE calendar -> validated features -> LSTM -> champion -> predictions."""
