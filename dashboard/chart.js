// The price chart: candles and volume with SMA 20, EMA 50 and Bollinger bands (20, 2) over them, RSI 14 in a
// pane below, drawn by TradingView's lightweight-charts (vendor/, the global LightweightCharts). Times are bar
// starts in UTC seconds. Appends in time order cheaply; anything older than the last point redraws the series.

const { createChart, CandlestickSeries, HistogramSeries, LineSeries, CrosshairMode } =
  globalThis.LightweightCharts;

const BAR_SPACING = 7;

/** The overlays drawn from the features channel: column name → label, drawn in the pane of the price. */
export const OVERLAYS = Object.freeze({
  sma_20: 'SMA 20',
  ema_50: 'EMA 50',
  bbands_upper_20_2: 'BB upper (20, 2)',
  bbands_lower_20_2: 'BB lower (20, 2)',
});

export class PriceChart {
  /**
   * @param {HTMLElement} container
   * @param {Record<string, string>} colors CSS colours: text, grid, up, down, sma_20, ema_50, bbands, rsi
   */
  constructor(container, colors) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        background: { color: 'transparent' },
        textColor: colors.text,
        fontFamily: 'system-ui, sans-serif',
        panes: { separatorColor: colors.grid },
      },
      grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: colors.grid },
      timeScale: {
        borderColor: colors.grid,
        timeVisible: true,
        secondsVisible: false,
        barSpacing: BAR_SPACING,
        rightOffset: 4,
      },
      localization: { dateFormat: 'yyyy-MM-dd' },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: colors.up,
      downColor: colors.down,
      borderVisible: false,
      wickUpColor: colors.up,
      wickDownColor: colors.down,
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: 'volume',
      priceFormat: { type: 'volume' },
      color: colors.volume,
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.85, bottom: 0 } });
    const line = (color, title, extra = {}) =>
      this.chart.addSeries(LineSeries, {
        color,
        title,
        lineWidth: 2,
        priceLineVisible: false,
        lastValueVisible: false,
        crosshairMarkerVisible: false,
        ...extra,
      });
    /** @type {Record<string, any>} */
    this.lines = {
      sma_20: line(colors.sma_20, 'SMA 20'),
      ema_50: line(colors.ema_50, 'EMA 50'),
      bbands_upper_20_2: line(colors.bbands, 'BB', { lineWidth: 1, lineStyle: 2 }),
      bbands_lower_20_2: line(colors.bbands, '', { lineWidth: 1, lineStyle: 2 }),
    };
    this.rsi = this.chart.addSeries(
      LineSeries,
      { color: colors.rsi, title: 'RSI 14', lineWidth: 2, priceLineVisible: false },
      1,
    );
    this.rsi.createPriceLine({
      price: 70,
      color: colors.grid,
      lineStyle: 2,
      axisLabelVisible: false,
      title: '',
    });
    this.rsi.createPriceLine({
      price: 30,
      color: colors.grid,
      lineStyle: 2,
      axisLabelVisible: false,
      title: '',
    });
    this.chart.panes()[1]?.setStretchFactor(0.35);
    this.lastBarTime = -Infinity;
    this.lastFeatureTime = -Infinity;
    this.candleCount = 0;
    this.overlayPoints = 0;
  }

  /** Replaces everything: bars and feature vectors of one symbol, each sorted by time. */
  show(bars, features) {
    this.candles.setData(bars.map(candle));
    this.volume.setData(bars.map((bar) => this.volumeBar(bar)));
    this.candleCount = bars.length;
    this.lastBarTime = bars.length > 0 ? seconds(bars[bars.length - 1].ts) : -Infinity;
    for (const [column, series] of Object.entries(this.lines))
      series.setData(features.map((f) => point(f, column)));
    this.rsi.setData(features.map((f) => point(f, 'rsi_14')));
    this.overlayPoints = features.filter((f) => f.values.sma_20 !== null).length;
    this.lastFeatureTime = features.length > 0 ? seconds(features[features.length - 1].ts) : -Infinity;
  }

  /** One bar (new or revised); false when it is older than the last one drawn (the caller redraws). */
  addBar(bar) {
    const time = seconds(bar.ts);
    if (time < this.lastBarTime) return false;
    if (time > this.lastBarTime) this.candleCount++;
    this.lastBarTime = time;
    this.candles.update(candle(bar));
    this.volume.update(this.volumeBar(bar));
    return true;
  }

  /** One feature vector; false when it is older than the last one drawn. */
  addFeatures(vector) {
    const time = seconds(vector.ts);
    if (time < this.lastFeatureTime) return false;
    if (time > this.lastFeatureTime && vector.values.sma_20 !== null) this.overlayPoints++;
    this.lastFeatureTime = time;
    for (const [column, series] of Object.entries(this.lines)) series.update(point(vector, column));
    this.rsi.update(point(vector, 'rsi_14'));
    return true;
  }

  /** Back to the default zoom, newest bar at the right edge (fitting a handful of bars would stretch them). */
  resetView() {
    const timeScale = this.chart.timeScale();
    timeScale.applyOptions({ barSpacing: BAR_SPACING });
    timeScale.scrollToRealTime();
  }

  volumeBar(bar) {
    return { time: seconds(bar.ts), value: bar.volume };
  }
}

const seconds = (ms) => Math.floor(ms / 1000);

const candle = (bar) => ({
  time: seconds(bar.ts),
  open: bar.open,
  high: bar.high,
  low: bar.low,
  close: bar.close,
});

/** A line point, or a gap (whitespace) while the indicator warms up. */
function point(vector, column) {
  const value = vector.values[column];
  return value === null || value === undefined
    ? { time: seconds(vector.ts) }
    : { time: seconds(vector.ts), value };
}
