return require('llm_metrics')
